"""The EASRec paper's ML-1M hyper-parameters (Table II), shared by the benchmarks."""

PAPER_ML1M = {
    "MAX_ITEM_LIST_LENGTH": 200,  # N
    "hidden_size": 128,  # d
    "inner_size": 256,  # D
    "n_layers": 4,  # L
    "n_heads": 4,
    "hidden_dropout_prob": 0.2,
    "attn_dropout_prob": 0.2,
    "learning_rate": 0.001,
}
