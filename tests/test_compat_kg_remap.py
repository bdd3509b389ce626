"""Compat fix: ``KnowledgeBasedDataset._reset_ent_remapID`` keeps each ``token_seq`` row's length.

When items and entities are merged into one id space, RecBole splits a sequence field of item ids
back at ``cumsum(Series.agg(len))``, one number under pandas 3, so a knowledge-graph dataset with
such a field failed to load.
"""

from __future__ import annotations

from pathlib import Path

from recbole.data import create_dataset

import recbole_easrec  # noqa: F401  (applies the fixes)
from recbole_easrec import compat
from recbole_easrec.config import build_config
from tests.conftest import tiny_config, write_cycle_dataset

N_ITEMS = 30


def write_kg(data_path: Path) -> dict[str, list[str]]:
    """``.link``/``.kg`` for the even items, ``.item`` with ``similar:token_seq``; item → similar."""
    folder = data_path / "tiny"
    links = ["item_id:token\tentity_id:token"]
    links += [f"i{k}\te{k}" for k in range(2, N_ITEMS + 1, 2)]
    (folder / "tiny.link").write_text("\n".join(links) + "\n", encoding="utf-8")
    triples = ["head_id:token\trelation_id:token\ttail_id:token"]
    triples += [f"e{k}\tr{k % 3}\tx{k % 4}" for k in range(2, N_ITEMS + 1, 2)]
    (folder / "tiny.kg").write_text("\n".join(triples) + "\n", encoding="utf-8")
    similar = {
        f"i{k}": [f"i{(k + j) % N_ITEMS + 1}" for j in range(k % 3 + 1)] for k in range(1, 31)
    }
    rows = ["item_id:token\tsimilar:token_seq"]
    rows += [f"{item}\t{' '.join(tokens)}" for item, tokens in similar.items()]
    (folder / "tiny.item").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return similar


def test_item_sequences_follow_the_merged_item_ids(tmp_path):
    data_path = write_cycle_dataset(tmp_path / "data", n_items=N_ITEMS)
    similar = write_kg(data_path)
    settings = tiny_config(data_path, alias_of_item_id=["similar"], train_neg_sample_args=None)
    settings["load_col"] = {
        "inter": ["user_id", "item_id", "timestamp"],
        "item": ["item_id", "similar"],
        "kg": ["head_id", "relation_id", "tail_id"],
        "link": ["item_id", "entity_id"],
    }
    dataset = create_dataset(build_config("CKE", "tiny", config_dict=settings))
    items = dataset.item_feat
    checked = 0
    for item_id, row in zip(items["item_id"].tolist(), items["similar"]):
        if item_id == 0:
            continue
        token = dataset.id2token("item_id", item_id)
        assert [dataset.id2token("item_id", int(i)) for i in row] == similar[token]
        checked += 1
    assert checked == N_ITEMS
    linked = {dataset.id2token("item_id", i) for i in range(1, dataset.item_num)} & set(
        dataset.item2entity
    )
    assert len(linked) == N_ITEMS // 2


def test_reset_ent_remap_id_is_patched():
    from recbole.data.dataset import KnowledgeBasedDataset

    assert KnowledgeBasedDataset._reset_ent_remapID is compat._reset_ent_remap_id
