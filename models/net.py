"""The Acoustic Guard network (PyTorch, training only; the integration never imports torch).

A small streaming CRNN with one head per event:

    log-mel [B, T, 40] -> (x - mean) / std
      -> causal Conv1d(40 -> 32, k=3) + ReLU -> causal Conv1d(32 -> 32, k=3) + ReLU
      -> GRU(32 -> 48), state carried from chunk to chunk
      -> per head: Linear(48 -> 16) + ReLU -> Linear(16 -> 1) -> sigmoid

(32 and 48 are the default widths; models/train.py --conv / --hidden change them.)

Streaming state per stream: the last two (normalised) input frames for conv1, the last two
conv1 outputs for conv2, and the GRU hidden state. Zero state = a fresh stream; training
uses the same zero state, so offline and streaming scores are identical.

The shipped ONNX graph and the numpy twin (engine/runtime.py) take and return exactly:
    inputs : features [B, T, 40], ctx1 [B, 2, 40], ctx2 [B, 2, 32], h [1, B, 48]
    outputs: scores [B, T, n_heads], ctx1_out, ctx2_out, h_out
and the numpy twin reads the PyTorch ``state_dict`` saved as ``.npz`` (same key names).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

N_MELS = 40
CONV = 32
HIDDEN = 48
HEAD_HIDDEN = 16
CONTEXT = 2  # kernel size 3 -> two frames of left context
HEADS = ["smoke_alarm", "co_alarm", "glass_break", "footsteps", "beeping_appliance"]


class Encoder(nn.Module):
    def __init__(self, conv: int = CONV, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(N_MELS))
        self.register_buffer("std", torch.ones(N_MELS))
        self.conv1 = nn.Conv1d(N_MELS, conv, 3)
        self.conv2 = nn.Conv1d(conv, conv, 3)
        self.gru = nn.GRU(conv, hidden, batch_first=True)

    def forward(
        self, x: torch.Tensor, ctx1: torch.Tensor, ctx2: torch.Tensor, h: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        x = (x - self.mean) / self.std
        a = torch.cat([ctx1, x], dim=1)
        y = torch.relu(self.conv1(a.transpose(1, 2))).transpose(1, 2)
        b = torch.cat([ctx2, y], dim=1)
        z = torch.relu(self.conv2(b.transpose(1, 2))).transpose(1, 2)
        out, h_out = self.gru(z, h)
        return out, a[:, -CONTEXT:], b[:, -CONTEXT:], h_out


def make_head(hidden: int = HIDDEN) -> nn.Module:
    return nn.Sequential(nn.Linear(hidden, HEAD_HIDDEN), nn.ReLU(), nn.Linear(HEAD_HIDDEN, 1))


class AcousticGuardNet(nn.Module):
    """Shared encoder + one head per event. ``add_head`` grows a new event.

    ``conv`` / ``hidden``: the encoder's widths (the runtimes read them from the weights).
    """

    def __init__(
        self, heads: list[str] | None = None, conv: int = CONV, hidden: int = HIDDEN
    ) -> None:
        super().__init__()
        self.conv, self.hidden = conv, hidden
        self.encoder = Encoder(conv, hidden)
        self.head_names = list(heads or HEADS)
        self.heads = nn.ModuleDict({name: make_head(hidden) for name in self.head_names})

    @classmethod
    def for_state(cls, heads: list[str], state: Mapping[str, Any]) -> AcousticGuardNet:
        """An empty network shaped like the saved ``state`` (a ``state_dict`` or ``.npz``)."""
        conv = int(state["encoder.conv1.weight"].shape[0])
        hidden = int(state["encoder.gru.weight_hh_l0"].shape[1])
        return cls(heads, conv, hidden)

    def add_head(self, name: str) -> nn.Module:
        """Add a new event head (train it with the encoder frozen: ``freeze_encoder``)."""
        head = make_head(self.hidden)
        self.heads[name] = head
        self.head_names.append(name)
        return head

    def freeze_encoder(self) -> None:
        for p in self.encoder.parameters():
            p.requires_grad_(False)

    def zero_state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (
            torch.zeros(batch, CONTEXT, N_MELS),
            torch.zeros(batch, CONTEXT, self.conv),
            torch.zeros(1, batch, self.hidden),
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Offline training pass from a zero state: ``[B, T, 40] -> [B, T, n_heads]`` logits."""
        ctx1, ctx2, h = self.zero_state(x.shape[0])
        out, *_ = self.encoder(x, ctx1, ctx2, h)
        return torch.cat([self.heads[n](out) for n in self.head_names], dim=-1)

    def forward(
        self, x: torch.Tensor, ctx1: torch.Tensor, ctx2: torch.Tensor, h: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Streaming pass (the exported graph): scores are sigmoid probabilities."""
        out, c1, c2, h_out = self.encoder(x, ctx1, ctx2, h)
        logits = torch.cat([self.heads[n](out) for n in self.head_names], dim=-1)
        return torch.sigmoid(logits), c1, c2, h_out
