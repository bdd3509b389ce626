"""Our models handed directly to RecBole's own Config, Trainer and evaluator."""

from __future__ import annotations

from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.trainer import Trainer

from recbole_easrec.model import LinRec
from tests.conftest import tiny_config


def test_linrec_with_recbole_config_and_trainer(tiny_data, tmp_path):
    settings = tiny_config(tiny_data, epochs=1, checkpoint_dir=str(tmp_path / "ckpt"))
    settings.update(
        load_col={"inter": ["user_id", "item_id", "timestamp"]},
        train_neg_sample_args=None,
        eval_args={"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full"},
        metrics=["Recall", "NDCG"],
        valid_metric="NDCG@10",
    )
    config = Config(model=LinRec, dataset="tiny", config_dict=settings)
    assert "attention_type" not in config  # RecBole's Config does not know our YAML …
    train, valid, test = data_preparation(config, create_dataset(config))
    model = LinRec(config, train.dataset)
    assert config["attention_type"] == "linear"  # … the model fills in its defaults
    trainer = Trainer(config, model)
    trainer.fit(train, valid, saved=True)
    result = trainer.evaluate(test)  # loads the best checkpoint (weights_only by default)
    assert set(result) == {"recall@10", "ndcg@10"}
    assert 0 <= result["ndcg@10"] <= result["recall@10"] <= 1
