import json

import pytest
import torch

from alphadev import asm
from alphadev.cli import main
from alphadev.network import NetworkConfig, PolicyValueNet
from alphadev.search import SearchConfig, run_search


def search_json(capsys, *flags):
    code = main(["search", "--json", *flags])
    return code, json.loads(capsys.readouterr().out)


def test_search_sort3_returns_a_verified_17_whose_file_matches_the_json(tmp_path, capsys):
    code, result = search_json(
        capsys, "--n", "3", "--seed", "0", "--time-limit", "60", "--out", str(tmp_path)
    )
    assert code == 0 and result["correct"] is True
    assert result["length"] == 17 and result["core_length"] == 11
    assert result["optimal"] is True and result["stop_reason"] == "proved optimal"
    listing = asm.parse_file(result["path"])
    assert len(listing.program) == result["length"]
    assert int(listing.header["length"]) == result["length"]
    assert int(listing.header["core_length"]) == result["core_length"]
    assert int(listing.header["critical_path"]) == result["critical_path"]
    assert listing.header["task"] == "sort3" and listing.header["isa"] == "cmov"
    assert main(["verify", result["path"]]) == 0


def test_mcts_alone_finds_and_exhausts_sort2(tmp_path, capsys):
    code, result = search_json(
        capsys, "--n", "2", "--method", "mcts", "--time-limit", "60", "--out", str(tmp_path)
    )
    assert code == 0 and result["length"] == 8 and result["found_by"] == "mcts"
    assert result["simulations"] > 0 and result["stop_reason"] == "search space exhausted"


def test_mcts_with_the_gumbel_root_finds_and_exhausts_sort2(tmp_path, capsys):
    code, result = search_json(capsys, "--n", "2", "--method", "mcts", "--gumbel",
                               "--time-limit", "60", "--out", str(tmp_path))  # fmt: skip
    assert code == 0 and result["length"] == 8
    assert result["simulations"] > 0 and result["stop_reason"] == "search space exhausted"


def test_mcts_with_an_untrained_network_finds_sort2(tmp_path):
    result = run_search(
        SearchConfig(n=2, isa="minmax", method="mcts", checkpoint="untrained", time_limit=60)
    )
    assert result.correct and result.best.length == 7
    assert result.evaluator == "untrained network"


def test_a_saved_network_checkpoint_is_used(tmp_path):
    net = PolicyValueNet(NetworkConfig(embed_dim=16, trunk_hidden=32, row_hidden=16))
    path = tmp_path / "net.pt"
    torch.save({"network_config": net.config.to_dict(), "model": net.state_dict()}, path)
    result = run_search(SearchConfig(n=2, method="mcts", checkpoint=str(path), time_limit=60))
    assert result.correct and result.evaluator == f"network {path}"


def test_enumeration_alone_finds_the_minmax_sort3_of_14(tmp_path, capsys):
    code, result = search_json(
        capsys, "--n", "3", "--isa", "minmax", "--method", "exact", "--out", str(tmp_path)
    )
    assert code == 0 and result["length"] == 14 and result["optimal"] is True
    assert result["simulations"] == 0


def test_target_stops_the_search_early(tmp_path):
    result = run_search(SearchConfig(n=4, target=28, time_limit=60))
    assert result.correct and result.best.length <= 28
    assert result.stop_reason == "target reached" and result.seconds < 30


def test_nothing_found_exits_1_and_writes_nothing(tmp_path, capsys):
    code, result = search_json(
        capsys, "--n", "4", "--method", "mcts", "--time-limit", "1", "--out", str(tmp_path)
    )
    assert code == 1 and result["correct"] is False and result["path"] is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--n", "9"], "--n must be between 2 and 8"),
        (["--isa", "cmox"], "unknown ISA"),
        (["--registers", "2"], "--registers must be between"),
        (["--time-limit", "0"], "--time-limit must be positive"),
        (["--checkpoint", "missing.pt"], "missing.pt: no such file"),
    ],
)
def test_bad_flags_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, flags, message):
    assert main(["search", "--out", str(tmp_path / "out"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_corrupted_checkpoint_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["search", "--checkpoint", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "not a readable torch checkpoint" in err


def test_a_foreign_checkpoint_is_a_clear_error(tmp_path, capsys):
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": [1, 2, 3]}, foreign)
    assert main(["search", "--checkpoint", str(foreign), "--out", str(tmp_path / "o")]) == 2
    assert "not an alphadev checkpoint" in capsys.readouterr().err


def test_prove_certifies_no_sort3_of_16_and_finds_17(capsys):
    assert main(["prove", "--n", "3", "--max-length", "16", "--json"]) == 0
    cert = json.loads(capsys.readouterr().out)
    assert cert["exists"] is False and cert["states"] > 0 and "loads first" in cert["space"]
    assert main(["prove", "--n", "3", "--max-length", "17", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["length"] == 17


def test_prove_rejects_a_length_below_the_loads_and_stores(capsys):
    assert main(["prove", "--n", "3", "--max-length", "5"]) == 2
    assert "below the 6 loads and stores" in capsys.readouterr().err


def test_the_packaged_sort3_policy_is_the_default_evaluator():
    from alphadev.game import AssemblyGame
    from alphadev.search import PACKAGED_CHECKPOINTS, make_evaluator

    packaged = PACKAGED_CHECKPOINTS / "sort3_cmov.pt"
    assert packaged.exists(), "the trained sort3 policy ships inside the package"
    _, name = make_evaluator(None, AssemblyGame(n=3))
    assert name == f"network {packaged}"
    _, name4 = make_evaluator(None, AssemblyGame(n=4))
    assert name4 == "heuristic"


def test_the_shipped_default_policy_learned_from_self_play_alone():
    from alphadev.game import AssemblyGame
    from alphadev.network import load_network, read_checkpoint_file
    from alphadev.search import PACKAGED_CHECKPOINTS, make_evaluator

    default = read_checkpoint_file(PACKAGED_CHECKPOINTS / "sort3_cmov.pt")
    assert default["provenance"]["self_play_only"] is True
    assert default["network_config"]["phi_weight"] == 1.0  # the value head is the residual
    # the net that imitated the enumeration ships too, and its name says so
    load_network(str(PACKAGED_CHECKPOINTS / "sort3_cmov_demonstrations.pt"))
    # sort4's, trained with compare-exchange moves, is the default for --moves macro
    sort4 = read_checkpoint_file(PACKAGED_CHECKPOINTS / "sort4_cmov_macro.pt")
    assert sort4["provenance"]["self_play_only"] is True
    assert sort4["provenance"]["moves"] == "macro" and int(sort4["best"]["length"]) == 28
    _, name = make_evaluator(None, AssemblyGame(n=4, moves="macro"))
    assert name == f"network {PACKAGED_CHECKPOINTS / 'sort4_cmov_macro.pt'}"


def test_bench_lists_the_benchmarks_and_rejects_an_unknown_one(capsys):
    assert main(["bench"]) == 0
    assert "search_methods" in capsys.readouterr().out
    assert main(["bench", "nope"]) == 2
    assert "unknown benchmark" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("method", "n", "isa"), [("comparators", 4, "cmov"), ("best-first", 4, "minmax")]
)
def test_each_engine_alone_is_reproducible_with_its_seed(method, n, isa):
    def once():
        config = SearchConfig(n=n, isa=isa, method=method, seed=3, time_limit=60)
        return run_search(config).best.program

    assert once() == once()


def test_a_search_never_replaces_a_kernel_as_short_unless_forced(tmp_path, capsys):
    code, first = search_json(capsys, "--n", "3", "--method", "exact", "--out", str(tmp_path))
    assert code == 0 and first["path"] is not None
    before = (tmp_path / "sort3_cmov_17.s").read_bytes()
    code, again = search_json(
        capsys, "--n", "3", "--method", "exact", "--seed", "5", "--out", str(tmp_path)
    )
    assert code == 0 and again["path"] is None and "not written" in again["written"]
    assert (tmp_path / "sort3_cmov_17.s").read_bytes() == before
    code, forced = search_json(
        capsys, "--n", "3", "--method", "exact", "--force", "--out", str(tmp_path)
    )
    assert code == 0 and forced["path"] == str(tmp_path / "sort3_cmov_17.s")


def test_sort5_gets_past_the_sorting_network_and_labels_constructed_seeds():
    result = run_search(SearchConfig(n=5, method="exact", time_limit=60, target=43))
    assert result.correct and result.best.length <= 43 < 46
    labels = [c.found_by for c in result.history]
    assert labels[0] == "sorting network (constructed)" and result.history[0].length == 46
    assert not result.optimal


def test_a_tiny_memory_budget_still_gives_a_verified_kernel_and_says_the_cap_was_hit(
    tmp_path, capsys
):
    code, result = search_json(capsys, "--n", "4", "--memory", "16MB", "--time-limit", "8",
                               "--checkpoint", "heuristic", "--out", str(tmp_path))  # fmt: skip
    assert code == 0 and result["correct"] and result["memory"] == "16MB"
    assert any(text.startswith("mcts: its tree filled") for text in result["memory_capped"])
    assert main(["verify", result["path"]]) == 0


@pytest.mark.parametrize("size", ["0", "2XB", "1MB", "nan", "-5GB"])
def test_a_bad_memory_budget_is_one_line_and_exit_2(size, capsys):
    assert main(["search", "--memory", size]) == 2
    err = capsys.readouterr().err
    assert "--memory" in err and "Traceback" not in err
