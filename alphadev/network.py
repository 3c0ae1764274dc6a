"""Policy/value network for the assembly game (PyTorch), and its MCTS evaluator.

Representation of a state:

* the program: tokens ``(op, dst, src)``, each embedded as ``op + location(dst) + location(src)
  + position``, read by a small transformer encoder; a learned summary token is pooled;
* the machine state: for each test row, every location's value (tie rows hold ranks
  ``0..n-1``) embedded with its location, plus the row's expected output and its flag, summed
  and passed through a shared MLP; the mean over rows (so the row count can vary);
* a trunk MLP over both.

Heads: a policy over actions whose logits are ``trunk · embed(op, dst, src)`` (illegal actions
masked to -inf), and two value heads, correctness and latency, as AlphaDev's dual head.

No weight depends on ``n``: locations index shared tables sized by ``max_memory`` and
``max_registers``, and the action head is built from the same kind of embeddings, so a net
trained on sort3 loads into sort4 unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from alphadev.game import AssemblyGame, GameState
from alphadev.isa import Op

__all__ = [
    "DIGEST",
    "CheckpointError",
    "NetworkConfig",
    "NetworkEvaluator",
    "PolicyValueNet",
    "encode_states",
    "load_network",
    "payload_digest",
    "read_checkpoint_file",
]


class CheckpointError(ValueError):
    """A checkpoint file that is missing, corrupted, or not an alphadev network."""


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    """Sizes (small CPU defaults). ``max_*`` bound the tasks one set of weights can serve."""

    embed_dim: int = 64
    program_layers: int = 2
    heads: int = 4
    row_hidden: int = 64
    trunk_hidden: int = 128
    max_length: int = 64
    max_memory: int = 8
    max_registers: int = 12
    max_value: int = 16
    #: The search adds ``phi_weight`` times the progress potential to the value head's output
    #: (:mod:`alphadev.mcts.potential`): 1 for a net trained on the residual, 0 otherwise.
    phi_weight: float = 0.0
    #: The search uses ``value_weight`` times the value heads' output (0: the potential alone
    #: values the leaves, and the net serves the search only through its policy).
    value_weight: float = 1.0

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


class PolicyValueNet(nn.Module):
    """Inputs (a batch of B states, T program slots, R rows, L locations, A actions):

    * ``program``: long[B, T, 3] of (op, dst-id, src-id), rows past the program all -1;
    * ``values``: long[B, R, L] location values, clamped to ``[0, max_value)``;
    * ``location_ids``: long[L] table ids of the task's locations (memory j -> j, register j ->
      max_memory + j);
    * ``expected``: long[B, R, n] sorted rows; ``flags``: long[B, R] in {0: none, 1: <, 2: =,
      3: >}; ``row_mask``: bool[B, R] (False = padding row);
    * ``actions``: long[A, 3] of (op, dst-id, src-id); ``legal``: bool[B, A].

    Returns ``(logits float[B, A] with -inf where illegal, value_correctness float[B],
    value_latency float[B])``.
    """

    def __init__(self, config: NetworkConfig | None = None) -> None:
        super().__init__()
        cfg = self.config = config or NetworkConfig()
        d = cfg.embed_dim
        locations = cfg.max_memory + cfg.max_registers
        self.op_embed = nn.Embedding(len(Op), d)
        self.dst_embed = nn.Embedding(locations, d)
        self.src_embed = nn.Embedding(locations, d)
        self.position = nn.Embedding(cfg.max_length + 1, d)
        self.summary = nn.Parameter(torch.zeros(1, 1, d))
        layer = nn.TransformerEncoderLayer(
            d, cfg.heads, dim_feedforward=2 * d, dropout=0.0, batch_first=True
        )
        self.program_encoder = nn.TransformerEncoder(
            layer, cfg.program_layers, enable_nested_tensor=False
        )

        self.value_embed = nn.Embedding(cfg.max_value, d)
        self.location_embed = nn.Embedding(locations, d)
        self.target_embed = nn.Embedding(cfg.max_memory, d)
        self.flag_embed = nn.Embedding(4, d)
        self.row_mlp = nn.Sequential(
            nn.Linear(d, cfg.row_hidden), nn.ReLU(), nn.Linear(cfg.row_hidden, d)
        )

        self.trunk = nn.Sequential(
            nn.Linear(2 * d, cfg.trunk_hidden),
            nn.ReLU(),
            nn.Linear(cfg.trunk_hidden, d),
            nn.ReLU(),
        )
        self.policy_query = nn.Linear(d, d)
        self.action_op = nn.Embedding(len(Op), d)
        self.action_dst = nn.Embedding(locations, d)
        self.action_src = nn.Embedding(locations, d)
        self.value_correctness = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 1))
        self.value_latency = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 1))
        # Untrained, the net is neutral: a uniform prior over the legal actions and value 0
        # (with shaping, the search then starts as the heuristic MCTS and learning departs
        # from it).
        for layer in (self.policy_query, self.value_correctness[-1], self.value_latency[-1]):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def encode_program(self, program: torch.Tensor) -> torch.Tensor:
        b, t, _ = program.shape
        pad = program[..., 0] < 0  # [B, T]
        safe = program.clamp(min=0)
        pos = torch.arange(t, device=program.device).expand(b, t)
        tokens = (
            self.op_embed(safe[..., 0])
            + self.dst_embed(safe[..., 1])
            + self.src_embed(safe[..., 2])
            + self.position(pos + 1)
        )
        tokens = torch.cat([self.summary.expand(b, 1, -1), tokens], dim=1)
        mask = torch.cat([torch.zeros(b, 1, dtype=torch.bool, device=pad.device), pad], dim=1)
        encoded = self.program_encoder(tokens, src_key_padding_mask=mask)
        return encoded[:, 0]

    def encode_rows(self, values, location_ids, expected, flags, row_mask) -> torch.Tensor:
        cfg = self.config
        per_location = self.value_embed(values.clamp(0, cfg.max_value - 1)) + self.location_embed(
            location_ids
        )  # [B, R, L, d]
        n = expected.shape[-1]
        targets = self.value_embed(expected.clamp(0, cfg.max_value - 1)) + self.target_embed(
            torch.arange(n, device=expected.device)
        )  # [B, R, n, d]
        row = per_location.sum(2) + targets.sum(2) + self.flag_embed(flags)
        row = self.row_mlp(row)  # [B, R, d]
        weights = row_mask.unsqueeze(-1).float()
        return (row * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def forward(self, program, values, location_ids, expected, flags, row_mask, actions, legal):
        h = self.trunk(
            torch.cat(
                [
                    self.encode_program(program),
                    self.encode_rows(values, location_ids, expected, flags, row_mask),
                ],
                dim=-1,
            )
        )
        action_vectors = (
            self.action_op(actions[:, 0])
            + self.action_dst(actions[:, 1])
            + self.action_src(actions[:, 2])
        )  # [A, d]
        logits = self.policy_query(h) @ action_vectors.T  # [B, A]
        logits = logits.masked_fill(~legal, float("-inf"))
        return (
            logits,
            self.value_correctness(h).squeeze(-1),
            self.value_latency(h).squeeze(-1),
        )


def location_ids(game: AssemblyGame, config: NetworkConfig) -> np.ndarray:
    """Table ids of the game's locations: int64[L] (memory j -> j, register j -> max_memory+j)."""
    n, k = game.layout.n, game.layout.registers
    if n > config.max_memory or k > config.max_registers:
        raise ValueError(
            f"sort{n} with {k} registers exceeds the network's max_memory={config.max_memory}, "
            f"max_registers={config.max_registers}"
        )
    return np.concatenate([np.arange(n), config.max_memory + np.arange(k)]).astype(np.int64)


def encode_states(
    game: AssemblyGame, states: Sequence[GameState], config: NetworkConfig
) -> dict[str, torch.Tensor]:
    """Batch tensors for :meth:`PolicyValueNet.forward` (see its docstring for shapes)."""
    if any(gs.length > config.max_length for gs in states):
        raise ValueError(f"a program is longer than the network's max_length={config.max_length}")
    ids = location_ids(game, config)
    b, t = len(states), max(1, max(gs.length for gs in states))  # pad to the longest only
    program = np.full((b, t, 3), -1, dtype=np.int64)
    for i, gs in enumerate(states):
        if gs.length:
            code = game.actions[list(gs.program)].astype(np.int64)
            program[i, : gs.length, 0] = code[:, 0]
            program[i, : gs.length, 1:] = ids[code[:, 1:]]
    values = np.stack([gs.state for gs in states]).astype(np.int64)
    flags = np.stack([gs.flags.astype(np.int64) + 2 if gs.flags_valid else
                      np.zeros(len(gs.flags), np.int64) for gs in states])  # fmt: skip
    rows = values.shape[1]
    expected = np.broadcast_to(game.task.expected.astype(np.int64), (b, rows, game.n))
    legal = np.stack([game.legal_actions(gs) for gs in states]).astype(bool)
    actions = game.actions.astype(np.int64).copy()
    actions[:, 1:] = ids[actions[:, 1:]]
    return {
        "program": torch.from_numpy(program),
        "values": torch.from_numpy(values),
        "location_ids": torch.from_numpy(ids),
        "expected": torch.from_numpy(np.array(expected)),
        "flags": torch.from_numpy(flags),
        "row_mask": torch.ones(b, rows, dtype=torch.bool),
        "actions": torch.from_numpy(actions),
        "legal": torch.from_numpy(legal),
    }


class NetworkEvaluator:
    """MCTS evaluator backed by a :class:`PolicyValueNet`: one forward pass per batch, dense
    logits ``[B, A]`` (``-inf`` where illegal) and values ``[B]`` (correctness + latency head;
    the search adds ``net.config.phi_weight`` times the potential)."""

    compiled = False

    def __init__(self, net: PolicyValueNet, game: AssemblyGame) -> None:
        self.net = net
        self.game = game
        self.phi_weight = float(net.config.phi_weight)

    @torch.no_grad()
    def evaluate(self, states: Sequence[GameState]) -> tuple[np.ndarray, np.ndarray]:
        self.net.eval()
        batch = encode_states(self.game, states, self.net.config)
        logits, v_correct, v_latency = self.net(**batch)
        values = self.net.config.value_weight * (v_correct + v_latency).double().numpy()
        return logits.numpy().astype(np.float32), values


DIGEST = "sha256"


def _feed(digest, value: object) -> None:
    """Add ``value`` to ``digest``: its type, its shape and its contents, recursively."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().to("cpu").contiguous()
        digest.update(f"T{tensor.dtype}{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, np.ndarray):
        if value.dtype == object:
            digest.update(f"O{value.shape};".encode())
            for item in value.reshape(-1).tolist():
                _feed(digest, item)
        else:
            digest.update(f"A{value.dtype.str}{value.shape};".encode())
            digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        digest.update(f"D{len(value)};".encode())
        for key in sorted(value, key=lambda k: (type(k).__name__, repr(k))):
            _feed(digest, key)
            _feed(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"{'L' if isinstance(value, list) else 'U'}{len(value)};".encode())
        for item in value:
            _feed(digest, item)
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        digest.update(f"S{len(data)};".encode() + data)
    elif isinstance(value, (bytes, bytearray)):
        digest.update(f"B{len(value)};".encode() + bytes(value))
    elif isinstance(value, bool) or value is None:
        digest.update(f"C{value};".encode())
    elif isinstance(value, int):
        digest.update(f"I{value};".encode())
    elif isinstance(value, float):
        digest.update(f"F{value.hex()};".encode())
    elif isinstance(value, np.generic):
        digest.update(f"G{value.dtype.str};".encode() + value.tobytes())
    else:
        digest.update(f"R{type(value).__qualname__}{value!r};".encode())


def payload_digest(payload: dict) -> str:
    """SHA-256 (hex) of every entry of ``payload`` but :data:`DIGEST`, over the values (type,
    shape and bytes of each tensor and array; keys in sorted order), so that it does not
    depend on how the file stores them."""
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in payload.items() if k != DIGEST})
    return digest.hexdigest()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_checkpoint_file(path: str | Path) -> object:
    """``torch.load`` (weights only, on the CPU) with one clear :class:`CheckpointError`
    naming the file for a missing, truncated or non-torch file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != b"PK\x03\x04":  # torch.save writes a zip archive
        raise CheckpointError(f"{path}: not a readable torch checkpoint (not a torch.save file)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged archive
        raise CheckpointError(
            f"{path}: not a readable torch checkpoint ({_first_line(exc)})"
        ) from None


def load_network(path: str) -> PolicyValueNet:
    """A :class:`PolicyValueNet` from a checkpoint: a ``torch.save`` dict holding
    ``network_config`` (the :class:`NetworkConfig` fields) and ``model`` (the state dict).
    Raises :class:`CheckpointError` naming the file and what is wrong."""
    data = read_checkpoint_file(path)
    if not isinstance(data, dict) or "network_config" not in data or "model" not in data:
        raise CheckpointError(
            f"{path}: not an alphadev checkpoint (expected keys 'network_config' and 'model')"
        )
    if DIGEST in data and data[DIGEST] != payload_digest(data):
        raise CheckpointError(
            f"{path}: corrupted checkpoint: its contents do not match the sha256 saved with them"
        )
    try:
        net = PolicyValueNet(NetworkConfig(**data["network_config"]))
        net.load_state_dict(data["model"])
    except (TypeError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path}: weights do not fit the network ({_first_line(exc)})"
        ) from None
    return net
