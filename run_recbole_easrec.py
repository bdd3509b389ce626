"""Entry point: ``python run_recbole_easrec.py --model=LinRec --dataset=ml-100k [--key=value ...]``."""

from recbole_easrec.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
