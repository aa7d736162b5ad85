"""Small models shared by the torch tests: one of each architecture family the
default selection must handle (issue 5: MLP, CNN, Transformer encoder layer),
plus recurrent, attention-with-bias_kv and tied-embedding cases."""

import pytest
import torch
from torch import nn


class TiedLanguageModel(nn.Module):
    """Embedding whose weight is reused by the output layer (weight tying)."""

    def __init__(self, vocab=11, dim=6):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)
        self.head.weight = self.embed.weight

    def forward(self, tokens):
        return self.head(self.norm(self.embed(tokens)))


def make_mlp():
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))


def make_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1, bias=False),
        nn.GroupNorm(2, 4),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, 3),
    )


def make_transformer():
    return nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0)


def make_lstm():
    return nn.LSTM(3, 4, num_layers=2, bidirectional=True)


def make_attention_bias_kv():
    return nn.MultiheadAttention(8, 2, add_bias_kv=True)


# name -> (builder, the parameter names the default rule penalizes, written out by hand)
ARCHITECTURES = {
    "mlp": (make_mlp, {"0.weight", "2.weight"}),
    "cnn": (make_cnn, {"0.weight", "3.weight", "6.weight"}),
    "transformer": (
        make_transformer,
        {
            "self_attn.in_proj_weight",
            "self_attn.out_proj.weight",
            "linear1.weight",
            "linear2.weight",
        },
    ),
    "lstm": (
        make_lstm,
        {
            f"weight_{kind}_l{layer}{suffix}"
            for kind in ("ih", "hh")
            for layer in (0, 1)
            for suffix in ("", "_reverse")
        },
    ),
    "attention_bias_kv": (make_attention_bias_kv, {"in_proj_weight", "out_proj.weight"}),
    # The head's weight *is* the embedding's: excluded, like the embedding.
    "tied_language_model": (TiedLanguageModel, set()),
}


@pytest.fixture(params=sorted(ARCHITECTURES))
def architecture(request):
    """(name, freshly built float64 module, expected default selection)."""
    torch.manual_seed(0)
    builder, expected = ARCHITECTURES[request.param]
    return request.param, builder().double(), expected
