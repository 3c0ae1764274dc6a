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

The search's path (:class:`NetworkEvaluator`) is the same function, made fast: a
:class:`~alphadev.state_encoding.StateEncoder` per game writes each batch of leaves in
compiled code into buffers it reuses, and :meth:`PolicyValueNet.infer` runs the net in
inference mode on weights folded once per game (:class:`SearchConstants`), without the
modules' per-call checks, the last encoder layer for the summary token alone.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from alphadev.game import AssemblyGame, GameState
from alphadev.isa import Op
from alphadev.state_encoding import Leaves, StateEncoder, leaves_of, location_ids

__all__ = [
    "DIGEST",
    "CheckpointError",
    "NetworkConfig",
    "NetworkEvaluator",
    "PolicyValueNet",
    "SearchConstants",
    "encode_states",
    "load_network",
    "location_ids",
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
    * ``actions``: long[A, 3] of (op, dst-id, src-id), or long[A, K, 3] for moves of up to K
      instructions (op -1 past a move's last); ``legal``: bool[B, A].

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
        logits = self.policy_query(h) @ self.action_vectors(actions).T  # [B, A]
        logits = logits.masked_fill(~legal, float("-inf"))
        return (
            logits,
            self.value_correctness(h).squeeze(-1),
            self.value_latency(h).squeeze(-1),
        )

    def infer(self, moves, padding, features, illegal, constants: SearchConstants):
        """:meth:`forward` for the search, up to float rounding, with every row real: ``(logits
        float[B, A] with -inf where illegal, value_correctness + value_latency float[B])``.

        It reads the layers of :meth:`forward` as they are (trunk Linear-ReLU-Linear-ReLU,
        value heads Linear-ReLU-Linear, post-norm ReLU encoder layers for the summary-only last
        layer): a change there is a change here (``tests/test_network_fast.py`` compares them).

        Inputs (from :meth:`~alphadev.state_encoding.StateEncoder.features`): ``moves``
        long[B, 1 + T], the summary token's id ``A`` then the program's action ids (any id in
        padding slots); ``padding`` float[B, 1 + T], -inf on a padding slot and 0 elsewhere;
        ``features`` float[B, R, V + 4], per row the count of each value (clamped to ``[0,
        V)``, ``V = max_value``) over its locations and its expected items, then its flag
        one-hot; ``illegal`` bool[B, A]; ``constants``: :meth:`search_constants` of the game.
        """
        c = constants
        x = F.embedding(moves, c.tokens) + c.positions[: moves.shape[1]]
        *layers, last = self.program_encoder.layers
        for layer, args in zip(layers, c.layers, strict=True):
            x = _encoder_layer(layer, args, x, padding)
        program = _summary_layer(last, c.last_layer, x, padding)  # [B, d]
        rows = torch.relu(F.linear(features, c.row_weight, c.row_bias)).mean(1)
        h = torch.relu(F.linear(torch.cat([program, rows], dim=-1), c.trunk_weight, c.trunk_bias))
        h = torch.relu(F.linear(h, *c.trunk_out))
        heads = F.linear(h, c.head_weight, c.head_bias)  # [B, A + 2d]
        a = illegal.shape[1]
        values = F.linear(torch.relu(heads[:, a:]), c.value_weight, c.value_bias)
        return heads[:, :a].masked_fill(illegal, float("-inf")), values.squeeze(-1)

    def action_vectors(self, actions: torch.Tensor) -> torch.Tensor:
        """float[A, d]: each action's vector, the sum over its instructions of the action
        embeddings of (op, dst-id, src-id); ``actions`` long[A, 3] or long[A, K, 3] (op -1 past
        a move's last instruction). A move of one instruction is that instruction's vector, so
        a net trained on instructions scores compare-exchange moves from the first game."""
        if actions.dim() == 2:
            actions = actions.unsqueeze(1)
        real = (actions[..., 0] >= 0).unsqueeze(-1)  # [A, K, 1]
        safe = actions.clamp(min=0)
        steps = self.action_op(safe[..., 0]) + self.action_dst(safe[..., 1])
        steps = steps + self.action_src(safe[..., 2])  # [A, K, d]
        return (steps * real).sum(1)

    @torch.no_grad()
    def search_constants(self, location_ids, actions, instructions=None) -> SearchConstants:
        """What :meth:`infer` needs that depends on the weights and the game alone (see
        :class:`SearchConstants`); ``location_ids``, ``actions`` as in :meth:`forward`;
        ``instructions`` long[I, 3] the tokens of the program's instruction ids (default:
        ``actions``, a game of one-instruction moves)."""
        d = self.config.embed_dim
        if instructions is None:
            instructions = actions
        tokens = torch.cat([self.op_embed(instructions[:, 0]) + self.dst_embed(instructions[:, 1])
                            + self.src_embed(instructions[:, 2]), self.summary[0]])  # fmt: skip
        positions = self.position.weight.clone()
        positions[0] = 0.0  # the summary token has no position
        # rows: features @ [value_embed; flag_embed] + what every row holds alike
        first, second = self.row_mlp[0], self.row_mlp[2]
        table = torch.cat([self.value_embed.weight, self.flag_embed.weight])  # [V + 4, d]
        n = int((location_ids < self.config.max_memory).sum())  # memory slots = sorted items
        alike = self.location_embed(location_ids).sum(0) + self.target_embed.weight[:n].sum(0)
        # the trunk's first layer takes the row MLP's second (it commutes with the mean)
        trunk, program_part, rows_part = self.trunk[0], *self.trunk[0].weight.split(d, dim=1)
        action_vectors = self.action_vectors(actions)  # [A, d]
        query, vc, vl = self.policy_query, self.value_correctness, self.value_latency
        *layers, last = self.program_encoder.layers
        return SearchConstants(
            tokens=tokens,
            positions=positions,
            layers=tuple(_fused_arguments(layer) for layer in layers),
            last_layer=_summary_arguments(last),
            row_weight=first.weight @ table.T,
            row_bias=F.linear(alike, first.weight, first.bias),
            trunk_weight=torch.cat([program_part, rows_part @ second.weight], dim=1),
            trunk_bias=trunk.bias + rows_part @ second.bias,
            trunk_out=(self.trunk[2].weight, self.trunk[2].bias),
            head_weight=torch.cat([action_vectors @ query.weight, vc[0].weight, vl[0].weight]),
            head_bias=torch.cat([action_vectors @ query.bias, vc[0].bias, vl[0].bias]),
            value_weight=torch.cat([vc[2].weight, vl[2].weight], dim=1),
            value_bias=vc[2].bias + vl[2].bias,
        )


class SearchConstants(NamedTuple):
    """:meth:`PolicyValueNet.infer`'s weights for one game, folded: the token of instruction
    ``i`` is row ``i`` of ``tokens`` (its three embeddings summed; row ``I`` the summary token) plus
    its position; the encoder layers' arguments gathered once; a row's first hidden layer is
    ``features @ row_weight.T + row_bias`` (the value and flag embeddings through the row
    MLP's first layer, the locations' and targets' embeddings in the bias); the row MLP's
    second layer, affine, commutes with the mean over rows and is folded into the trunk's
    first; the policy query meets the action vectors once, beside the value heads' first
    layers; the two value heads' last layers sum."""

    tokens: torch.Tensor  # float[I + 1, d]
    positions: torch.Tensor  # float[max_length + 1, d], row 0 zero
    layers: tuple  # per encoder layer but the last: _fused_arguments
    last_layer: tuple | None  # _summary_arguments of the last
    row_weight: torch.Tensor  # float[row_hidden, V + 4]
    row_bias: torch.Tensor  # float[row_hidden]
    trunk_weight: torch.Tensor  # float[trunk_hidden, d + row_hidden]
    trunk_bias: torch.Tensor  # float[trunk_hidden]
    trunk_out: tuple[torch.Tensor, torch.Tensor]  # the trunk's second layer
    head_weight: torch.Tensor  # float[A + 2d, d]: logits, then both value heads' hidden
    head_bias: torch.Tensor  # float[A + 2d]
    value_weight: torch.Tensor  # float[1, 2d]
    value_bias: torch.Tensor  # float[1]


def _fused_arguments(layer: nn.TransformerEncoderLayer) -> tuple | None:
    """The arguments of torch's fused encoder-layer kernel after the input and before the
    mask, where the layer calls that kernel itself in inference (the conditions
    :meth:`nn.TransformerEncoderLayer.forward` checks of its own settings); else None."""
    attn = layer.self_attn
    if not (
        hasattr(torch, "_transformer_encoder_layer_fwd")
        and attn.batch_first
        and attn.in_proj_bias is not None
        and attn._qkv_same_embed_dim
        and layer.activation_relu_or_gelu
        and layer.norm1.eps == layer.norm2.eps
        and attn.num_heads % 2 == 0
    ):
        return None
    return (
        attn.embed_dim, attn.num_heads, attn.in_proj_weight, attn.in_proj_bias,
        attn.out_proj.weight, attn.out_proj.bias, layer.activation_relu_or_gelu == 2,
        layer.norm_first, layer.norm1.eps, layer.norm1.weight, layer.norm1.bias,
        layer.norm2.weight, layer.norm2.bias, layer.linear1.weight, layer.linear1.bias,
        layer.linear2.weight, layer.linear2.bias,
    )  # fmt: skip


def _encoder_layer(layer: nn.TransformerEncoderLayer, arguments, x, padding) -> torch.Tensor:
    """``layer(x, src_key_padding_mask=padding)``; with its :func:`_fused_arguments`, in
    inference, torch's fused kernel called directly (what the layer would call, without its
    checks)."""
    if (
        arguments is None
        or layer.training
        or torch.is_grad_enabled()
        or torch.is_autocast_enabled()
        or not torch.backends.mha.get_fastpath_enabled()
    ):
        return layer(x, src_key_padding_mask=padding)
    return torch._transformer_encoder_layer_fwd(x, *arguments, padding, 1)  # 1: key padding


def _summary_arguments(layer: nn.TransformerEncoderLayer) -> tuple | None:
    """The weights :func:`_summary_layer` reads (the query's pre-scaled by ``1/sqrt(head
    dim)``), for a post-norm ReLU layer; None for any other."""
    if layer.norm_first or layer.activation_relu_or_gelu != 1:
        return None
    attn = layer.self_attn
    d, heads = attn.embed_dim, attn.num_heads
    w, b = attn.in_proj_weight, attn.in_proj_bias
    scale = 1.0 / math.sqrt(d // heads)
    return (
        heads, w[:d] * scale, b[:d] * scale, w[d:], b[d:], attn.out_proj.weight,
        attn.out_proj.bias, layer.norm1.weight, layer.norm1.bias, layer.norm1.eps,
        layer.linear1.weight, layer.linear1.bias, layer.linear2.weight, layer.linear2.bias,
        layer.norm2.weight, layer.norm2.bias, layer.norm2.eps,
    )  # fmt: skip


def _summary_layer(layer: nn.TransformerEncoderLayer, arguments, x, padding) -> torch.Tensor:
    """``layer(x, src_key_padding_mask=padding)[:, 0]`` (float[B, d]) for the summary token
    alone: its query against every token's keys and values, then the feed-forward block on it
    (with its :func:`_summary_arguments`, in eval mode; else the layer whole)."""
    if arguments is None or layer.training:
        return layer(x, src_key_padding_mask=padding)[:, 0]
    heads, wq, bq, wkv, bkv, wo, bo, n1w, n1b, eps1, w1, b1, w2, b2, n2w, n2b, eps2 = arguments
    b, t, d = x.shape
    first = x[:, 0]
    q = F.linear(first, wq, bq).view(b, 1, heads, d // heads)
    k, v = F.linear(x, wkv, bkv).view(b, t, 2, heads, d // heads).unbind(2)  # [B, T, H, dh]
    scores = (q * k).sum(-1) + padding.unsqueeze(-1)  # [B, T, H]
    mixed = (torch.softmax(scores, dim=1).unsqueeze(-1) * v).sum(1).view(b, d)
    y = F.layer_norm(first + F.linear(mixed, wo, bo), (d,), n1w, n1b, eps1)
    ff = F.linear(torch.relu(F.linear(y, w1, b1)), w2, b2)
    return F.layer_norm(y + ff, (d,), n2w, n2b, eps2)


def encode_states(
    game: AssemblyGame, states: Sequence[GameState], config: NetworkConfig
) -> dict[str, torch.Tensor]:
    """Batch tensors for :meth:`PolicyValueNet.forward` (see its docstring for shapes)."""
    if any(gs.length > config.max_length for gs in states):
        raise ValueError(f"a program is longer than the network's max_length={config.max_length}")
    batch = StateEncoder(game, config).encode(leaves_of(states))
    return {name: torch.from_numpy(array) for name, array in batch.items()}


class NetworkEvaluator:
    """MCTS evaluator backed by a :class:`PolicyValueNet`: one pass of
    :meth:`PolicyValueNet.infer` per batch, dense logits ``[B, A]`` (``-inf`` where illegal)
    and values ``[B]`` (correctness + latency head; the search adds
    ``net.config.phi_weight`` times the potential). The net is put in eval mode. One call at a
    time (the encoder reuses its buffers). The game's :class:`SearchConstants` are made again
    whenever a weight changes in place (an optimiser step, ``load_state_dict``); a parameter
    replaced by another object needs a new evaluator."""

    compiled = False

    def __init__(self, net: PolicyValueNet, game: AssemblyGame) -> None:
        self.net = net
        self.game = game
        self.phi_weight = float(net.config.phi_weight)
        self._encoder: StateEncoder | None = None  # made at the first call
        self._weights: list[torch.Tensor] = []
        self._version: list[int] | None = None  # of the weights the constants were made of
        self._constants: SearchConstants | None = None

    def evaluate(self, states: Sequence[GameState]) -> tuple[np.ndarray, np.ndarray]:
        return self.evaluate_leaves(leaves_of(states))

    def evaluate_leaves(self, leaves: Leaves) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`evaluate` of the leaves' states (see :class:`~alphadev.state_encoding.Leaves`)."""
        net = self.net
        if net.training:
            net.eval()
        with torch.inference_mode():
            constants = self._search_constants()
            inputs = {k: torch.from_numpy(v) for k, v in self._encoder.features(leaves).items()}
            logits, values = net.infer(**inputs, constants=constants)
            values = values.double().numpy()
            return logits.numpy().astype(np.float32), net.config.value_weight * values

    def _search_constants(self) -> SearchConstants:
        """:meth:`PolicyValueNet.search_constants` of the game, made again when a weight
        changed."""
        if self._encoder is None:
            self._encoder = StateEncoder(self.game, self.net.config)
            self._weights = list(self.net.parameters())
        version = [w._version for w in self._weights]
        if version != self._version:
            encoder = self._encoder
            self._constants = self.net.search_constants(
                torch.from_numpy(encoder.location_ids),
                torch.from_numpy(encoder.move_tokens),
                torch.from_numpy(encoder.tokens),
            )
            self._version = version
        return self._constants


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


def check_digest(path: str | Path, data: dict, *, required: bool = False) -> None:
    """:class:`CheckpointError` when ``data`` holds a sha256 (:data:`DIGEST`) its contents do
    not match, or (``required``) holds none."""
    if (DIGEST in data or required) and data.get(DIGEST) != payload_digest(data):
        raise CheckpointError(
            f"{path}: corrupted checkpoint: its contents do not match the sha256 saved with them"
        )


def load_network(path: str) -> PolicyValueNet:
    """A :class:`PolicyValueNet` from a checkpoint: a ``torch.save`` dict holding
    ``network_config`` (the :class:`NetworkConfig` fields) and ``model`` (the state dict).
    Raises :class:`CheckpointError` naming the file and what is wrong."""
    data = read_checkpoint_file(path)
    if not isinstance(data, dict) or "network_config" not in data or "model" not in data:
        raise CheckpointError(
            f"{path}: not an alphadev checkpoint (expected keys 'network_config' and 'model')"
        )
    check_digest(path, data)
    try:
        net = PolicyValueNet(NetworkConfig(**data["network_config"]))
        net.load_state_dict(data["model"])
    except (TypeError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path}: weights do not fit the network ({_first_line(exc)})"
        ) from None
    return net
