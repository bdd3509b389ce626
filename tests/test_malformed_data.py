"""A corpus of malformed datasets: each is a one-line error naming the file, the line and the fix,
or a documented handling with a warning line. Never a traceback, never a silent change."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from recbole_easrec.cli import main
from recbole_easrec.config import build_config
from recbole_easrec.quick_start import prepare_data

HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float"


def good_rows(users: int = 6, length: int = 6) -> list[str]:
    return [
        f"u{user}\ti{(user + step) % 9 + 1}\t3\t{100 + user * 10 + step}"
        for user in range(1, users + 1)
        for step in range(length)
    ]


def replace(rows: list[str], index: int, row: str) -> list[str]:
    rows = list(rows)
    rows[index] = row
    return rows


# name → (content of bad.inter as bytes, what the one error line must contain)
ERROR_CORPUS: dict[str, tuple[bytes, list[str]]] = {
    "empty_file": (b"", ["bad.inter is empty"]),
    "header_only": ((HEADER + "\n").encode(), ["has a header but no rows"]),
    "comma_separated": (
        (b"user_id:token,item_id:token,timestamp:float\nu1,i1,1\n"),
        ["bad.inter line 1", "comma separated", "--field_separator"],
    ),
    "duplicate_header_field": (
        (b"user_id:token\titem_id:token\titem_id:token\ttimestamp:float\nu1\ti1\ti2\t1\n"),
        ["bad.inter line 1", "duplicate header field(s) item_id"],
    ),
    "rows_missing_timestamp": (
        "\n".join([HEADER, *(row.rsplit("\t", 1)[0] for row in good_rows())]).encode(),
        ["bad.inter line 2", "3 fields, the header has 4"],
    ),
    "tab_inside_token": (
        "\n".join([HEADER, *replace(good_rows(), 4, "u1\tthe\titem\t3\t105")]).encode(),
        ["bad.inter line 6", "5 fields, the header has 4", "may not contain the separator"],
    ),
    "empty_timestamps": (
        "\n".join(
            [HEADER]
            + [
                row.rsplit("\t", 1)[0] + "\t" if i % 3 == 0 else row
                for i, row in enumerate(good_rows())
            ]
        ).encode(),
        ["bad.inter line 2", "empty timestamp (12 of 36 rows)", "fill it in or drop"],
    ),
    "non_numeric_timestamp": (
        "\n".join([HEADER, *replace(good_rows(), 7, "u2\ti1\t3\tyesterday")]).encode(),
        ["bad.inter line 9", "timestamp 'yesterday' is not a number"],
    ),
    "nan_rating": (
        "\n".join([HEADER, *replace(good_rows(), 2, "u1\ti1\tnan\t103")]).encode(),
        ["bad.inter line 4", "rating is 'nan'", "finite number"],
    ),
    "inf_rating": (
        "\n".join([HEADER, *replace(good_rows(), 3, "u1\ti1\tinf\t104")]).encode(),
        ["bad.inter line 5", "rating is 'inf'"],
    ),
    "invalid_utf8": (
        ("\n".join([HEADER, *good_rows()[:3]]) + "\n").encode() + b"u\xff\ti1\t3\t9\n",
        ["bad.inter line 5", "not valid UTF-8"],
    ),
    "headerless": (
        "\n".join(good_rows()).encode(),
        ["bad.inter line 1", "the header line is missing", "'u1 i2 3 110'", "add a header"],
    ),
    "header_without_types": (
        "\n".join(["user_id\titem_id\trating\ttimestamp", *good_rows()]).encode(),
        ["bad.inter line 1", "the header line is missing", "no name:type fields"],
    ),
    "unknown_field_type": (
        "\n".join([HEADER.replace("user_id:token", "user_id:tok"), *good_rows()]).encode(),
        ["Type tok from field user_id is not supported"],
    ),
    "no_item_column": (
        "\n".join(["user_id:token\ttimestamp:float", *(f"u{i}\t{i}" for i in range(9))]).encode(),
        ["lacks field(s) item_id"],
    ),
    "catalogue_smaller_than_topk": (
        "\n".join(
            [
                HEADER,
                *(f"u{u}\ti{(u + s) % 5 + 1}\t3\t{u * 10 + s}" for u in range(8) for s in range(6)),
            ]
        ).encode(),
        ["has 5 item(s) after filtering but topk asks for the top 10", "--topk=[k] with k <= 5"],
    ),
    "every_interaction_on_one_item": (
        "\n".join(
            [HEADER, *(f"u{u}\ti1\t3\t{u * 10 + s}" for u in range(8) for s in range(6))]
        ).encode(),
        ["has 1 item(s) after filtering but topk asks for the top 10"],
    ),
    "every_user_too_short": (
        "\n".join([HEADER, "u1\ti1\t3\t1", "u1\ti2\t3\t2", "u2\ti1\t3\t1"]).encode(),
        ["every user has fewer than 4 interactions", "leave-one-out"],
    ),
}


def write_dataset(tmp_path: Path, inter: bytes, item: str | None = None) -> Path:
    folder = tmp_path / "data" / "bad"
    folder.mkdir(parents=True)
    (folder / "bad.inter").write_bytes(inter)
    if item is not None:
        (folder / "bad.item").write_text(item)
    return tmp_path / "data"


def one_line_error(argv: list[str], capsys) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith("error: ")
    return err.splitlines()[-1]


@pytest.mark.parametrize("case", sorted(ERROR_CORPUS))
def test_malformed_file_is_one_line_error(case, tmp_path, capsys):
    content, expected = ERROR_CORPUS[case]
    data_path = write_dataset(tmp_path, content)
    out = tmp_path / "out"
    argv = ["--model=LinRec", "--dataset=bad", f"--data_path={data_path}", f"--output_dir={out}"]
    err = one_line_error([*argv, "--state=WARNING"], capsys)
    for text in expected:
        assert text in err, err
    assert not (out / "result.json").exists()


def test_every_user_filtered_by_recbole_thresholds(tmp_path, capsys):
    data_path = write_dataset(tmp_path, "\n".join([HEADER, *good_rows()]).encode())
    argv = ["--model=LinRec", "--dataset=bad", f"--data_path={data_path}"]
    err = one_line_error([*argv, "--user_inter_num_interval=[100,inf)", "--state=WARNING"], capsys)
    assert "removed by RecBole's filters" in err and "user_inter_num_interval: [100,inf)" in err


def test_item_file_with_no_matching_ids(tmp_path, capsys):
    data_path = write_dataset(
        tmp_path,
        "\n".join([HEADER, *good_rows()]).encode(),
        item="item_id:token\tcategory:token\nzz1\ta\nzz2\tb\n",
    )
    load_col = (
        "--load_col={'inter': ['user_id', 'item_id', 'timestamp'], 'item': ['item_id', 'category']}"
    )
    argv = ["--model=LinRec", "--dataset=bad", f"--data_path={data_path}", load_col]
    err = one_line_error([*argv, "--state=WARNING"], capsys)
    assert "bad.item: none of its ids occurs in" in err and "bad.inter" in err


def prepare(data_path: Path, **settings: object):
    config = build_config(
        "LinRec",
        "bad",
        # prefix mode: RecBole's dataset keeps each test row's input sequence (item_id_list)
        config_dict={
            "data_path": str(data_path),
            "state": "WARNING",
            "train_mode": "prefix",
            **settings,
        },
    )
    return config, prepare_data(config)


def test_short_users_are_dropped_and_counted(tmp_path, caplog):
    rows = good_rows() + ["u90\ti1\t3\t1", "u90\ti2\t3\t2", "u91\ti3\t3\t1"]
    data_path = write_dataset(tmp_path, "\n".join([HEADER, *rows]).encode())
    with caplog.at_level(logging.WARNING, logger="recbole_easrec.data"):
        config, (dataset, loaders) = prepare(data_path)
    assert "2 of 8 users have fewer than 4 interactions" in caplog.text
    assert config["user_inter_num_interval"] == "[4,inf)"
    assert dataset.user_num - 1 == 6  # minus RecBole's padding id
    assert len(loaders[2]._dataset.inter_feat) == 6  # one test sample per remaining user


def test_timestamps_out_of_file_order_give_the_same_split(tmp_path):
    rows = good_rows()
    ordered = write_dataset(tmp_path / "a", "\n".join([HEADER, *rows]).encode())
    shuffled = write_dataset(tmp_path / "b", "\n".join([HEADER, *reversed(rows)]).encode())
    splits = []
    for data_path in (ordered, shuffled):
        _, (dataset, loaders) = prepare(data_path)
        test = loaders[2]._dataset.inter_feat
        tokens = dataset.field2id_token["item_id"]
        users = dataset.field2id_token["user_id"][test["user_id"].numpy()].tolist()
        targets = tokens[test["item_id"].numpy()].tolist()
        inputs = [tuple(tokens[row].tolist()) for row in test["item_id_list"].numpy()]
        splits.append(sorted(zip(users, targets, inputs, strict=True)))
    assert splits[0] == splits[1]


def test_negative_timestamps_warn(tmp_path, caplog):
    rows = [row.rsplit("\t", 1)[0] + f"\t{-1000 + i}" for i, row in enumerate(good_rows())]
    data_path = write_dataset(tmp_path, "\n".join([HEADER, *rows]).encode())
    with caplog.at_level(logging.WARNING, logger="recbole_easrec.data"):
        prepare(data_path)
    assert "36 negative timestamp values" in caplog.text


def test_items_only_in_the_test_split_warn(tmp_path, caplog):
    rows = good_rows() + [f"u1\ti99\t3\t{10_000}"]  # u1's last item, nowhere else
    data_path = write_dataset(tmp_path, "\n".join([HEADER, *rows]).encode())
    with caplog.at_level(logging.WARNING, logger="recbole_easrec.data"):
        prepare(data_path)
    assert "1 test items never occur in training" in caplog.text


def test_item_file_partly_matching_warns(tmp_path, caplog):
    items = "item_id:token\tcategory:token\n" + "".join(f"i{i}\tc\n" for i in range(1, 9))
    data_path = write_dataset(
        tmp_path, "\n".join([HEADER, *good_rows()]).encode(), item=items + "zz\tc\n"
    )
    load_col = {"inter": ["user_id", "item_id", "timestamp"], "item": ["item_id", "category"]}
    with caplog.at_level(logging.WARNING, logger="recbole_easrec.data"):
        prepare(data_path, load_col=load_col)
    assert "1 ids (4 interactions) are not in" in caplog.text  # i9
    assert "1 ids have no interaction" in caplog.text  # zz


def test_a_degenerate_dataset_keeps_what_the_folder_already_holds(tmp_path, capsys):
    """An earlier run's files in --output_dir survive a one-line data error (issue 30, item 6)."""
    content, _ = ERROR_CORPUS["catalogue_smaller_than_topk"]
    data_path = write_dataset(tmp_path, content)
    out = tmp_path / "out"
    out.mkdir()
    (out / "result.json").write_text('{"earlier": true}', encoding="utf-8")
    argv = ["--model=LinRec", "--dataset=bad", f"--data_path={data_path}", f"--output_dir={out}"]
    one_line_error([*argv, "--state=WARNING"], capsys)
    assert (out / "result.json").read_text(encoding="utf-8") == '{"earlier": true}'
    assert sorted(path.name for path in out.iterdir()) == ["result.json", "run.log"]


def test_a_small_catalogue_runs_with_a_topk_it_can_fill(tmp_path, capsys):
    """The fix the error names works: --topk=[5] (RecBole's topk setting, not --recommend's)."""
    content, _ = ERROR_CORPUS["catalogue_smaller_than_topk"]
    data_path = write_dataset(tmp_path, content)
    out = tmp_path / "out"
    argv = ["--model=LinRec", "--dataset=bad", f"--data_path={data_path}", f"--output_dir={out}"]
    settings = ["--epochs=1", "--hidden_size=8", "--inner_size=16", "--n_layers=1"]
    code = main([*argv, *settings, "--topk=[5]", "--valid_metric=NDCG@5", "--state=WARNING"])
    assert code == 0, capsys.readouterr().err
    assert '"ndcg@5"' in (out / "result.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("line_end", ["\r\n", "\n"])
def test_byte_order_mark_and_crlf_are_accepted_with_a_named_warning(tmp_path, caplog, line_end):
    content = b"\xef\xbb\xbf" + line_end.join([HEADER, *good_rows()]).encode()
    data_path = write_dataset(tmp_path, content)
    with caplog.at_level(logging.WARNING, logger="recbole_easrec.data"):
        _, (dataset, loaders) = prepare(data_path)
    assert "starts with a UTF-8 byte-order mark; read as utf-8-sig" in caplog.text
    assert dataset.user_num - 1 == 6 and len(loaders[2]._dataset.inter_feat) == 6


def test_a_partial_eval_args_override_is_one_line(tmp_path, capsys):
    data_path = write_dataset(tmp_path, "\n".join([HEADER, *good_rows()]).encode())
    argv = ["--model=LinRec", "--dataset=bad", f"--data_path={data_path}", "--state=WARNING"]
    err = one_line_error([*argv, "--eval_args={'mode':'uni100'}"], capsys)
    assert "RecBole cannot split dataset 'bad'" in err and "check eval_args" in err
