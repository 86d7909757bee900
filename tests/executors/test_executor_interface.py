"""The executor interface and the local executor (fast: real sandboxed runs of numpy-only candidates).

What must hold whatever the executor: the targets never reach it (it gets a bundle without them), the
score comes from the evaluator's trusted scorer applied to the file the executor hands back, and a run
with nothing scorable is a failure with a reason. GPU handling is tested on CPU: no GPU means a clean
"cpu" record, a GPU the budget insists on means a clear failure, and a granted GPU id reaches the jail as
CUDA_VISIBLE_DEVICES with the GPU time recorded.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from problems.registry import get_problem
from sandbox.evaluate import Evaluator
from sandbox.executors import CandidateExecutor, ExecutedRun, GpuSlots, LocalExecutor, failed_run
from sandbox.executors.ray_task import LogRelay, read_predictions
from sandbox.gpu import resolve_device, visible_gpu_ids, wants_gpu
from sandbox.isolation import Limits, choose_backend, plan_launch
from sandbox.runner import CandidateRunner, RunOutcome
from tests.campaigns.scripted_team import poly

EXAMPLE = Path(__file__).resolve().parents[2] / "problems" / "examples" / "damped_oscillator"

# Reads the pin the runner set up and reports it through the predictions (the only channel that counts).
GPU_PROBE = """
import os
import numpy as np

def solve(task):
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "unset")
    code = float(visible) if visible not in ("", "unset") else -1.0
    flag = 1.0 if task.device == "cuda" else 0.0
    out = np.zeros(task.output_shape)
    out.flat[0] = code
    out.flat[1] = flag
    return out
"""


@pytest.fixture(scope="module")
def problem():
    return get_problem(str(EXAMPLE))


@pytest.fixture(scope="module")
def evaluator(tmp_path_factory):
    root = tmp_path_factory.mktemp("local-executor")
    with Evaluator(root / "runs", root / "cache") as ev:
        yield ev


class RecordingExecutor(CandidateExecutor):
    """A stand-in that writes chosen predictions, to watch what the evaluator sends and how it scores."""

    kind = "recording"

    def __init__(self, root: Path, predictions: np.ndarray | None, status: str = "succeeded") -> None:
        self.root = root
        self.predictions = predictions
        self.status = status
        self.bundles: list = []
        self.released: list[str] = []

    def run(self, code, bundle, budget, *, on_log=None, cancel=None) -> ExecutedRun:
        self.bundles.append(bundle)
        path = None
        if self.predictions is not None:
            path = self.root / f"p{len(self.bundles)}.npy"
            np.save(path, self.predictions)
        outcome = RunOutcome(run_id=f"r{len(self.bundles)}", status=self.status)  # type: ignore[arg-type]
        return ExecutedRun(
            outcome=outcome, predictions_path=str(path) if path else None, placement={"executor": self.kind}
        )

    def release(self, run: ExecutedRun) -> None:
        self.released.append(run.outcome.run_id)
        if run.predictions_path:
            Path(run.predictions_path).unlink()


def test_local_executor_is_the_default_and_scores_in_the_evaluator(evaluator, problem, tmp_path):
    assert isinstance(evaluator.executor, LocalExecutor) and evaluator.runner is evaluator.executor.runner
    logs: list[dict] = []
    result = evaluator.evaluate(poly(3), problem, on_log=logs.append)
    assert result.status == "succeeded", result.reason
    assert 0 < result.score < 1
    assert result.protections["placement"]["executor"] == "local"
    assert logs and "residual" in logs[0]
    # The same predictions handed back by any executor get the same score from the trusted scorer.
    data = problem.load(evaluator.cache_dir)
    x = data.train["x"][:, 0]
    fitted = np.polyval(np.polyfit(x, data.train["y"], 3), data.query_inputs["x"][:, 0])
    stand_in = RecordingExecutor(tmp_path, fitted)
    with Evaluator(tmp_path / "runs", evaluator.cache_dir, executor=stand_in) as other:
        again = other.evaluate(poly(3), problem)
    assert again.score == pytest.approx(result.score, rel=1e-9)
    assert stand_in.released == ["r1"] and not list(tmp_path.glob("p*.npy"))
    # What the executor saw: the inputs the candidate may see, never the targets.
    seen = stand_in.bundles[0]
    assert set(seen.train) == {"x", "y"} and set(seen.query_inputs) == {"x"}
    assert not any(
        np.array_equal(arr, data.targets) for arr in [*seen.train.values(), *seen.query_inputs.values()]
    )
    assert "targets" not in str(seen.meta)


def test_bad_or_missing_predictions_from_an_executor_fail_with_a_reason(problem, tmp_path):
    data = problem.load(tmp_path / "cache")
    wrong_shape = RecordingExecutor(tmp_path, np.zeros(data.targets.shape[0] + 3))
    with Evaluator(tmp_path / "runs", tmp_path / "cache", executor=wrong_shape) as ev:
        result = ev.evaluate(poly(1), problem)
    assert (result.status, result.failure) == ("failed", "invalid_output") and "shape" in result.reason
    nothing = RecordingExecutor(tmp_path, None)
    with Evaluator(tmp_path / "runs", tmp_path / "cache", executor=nothing) as ev:
        result = ev.evaluate(poly(1), problem)
    assert (result.status, result.failure, result.score) == ("failed", "no_output", None)
    assert failed_run("gone").outcome.reason == "gone"


def test_cpu_record_is_clean_and_a_required_gpu_fails_clearly(evaluator, problem):
    auto = evaluator.evaluate(poly(2), problem, budget={"device": "auto"})
    assert auto.status == "succeeded" and auto.device == "cpu" and auto.gpu is None
    assert "gpu" not in auto.protections
    required = evaluator.evaluate(poly(2), problem, budget={"device": "cuda"})
    assert (required.status, required.failure) == ("failed", "sandbox_error")
    assert "no GPU was granted" in required.reason


def test_a_granted_gpu_is_pinned_inside_the_jail_and_its_time_recorded(problem, tmp_path):
    runner = CandidateRunner(tmp_path / "runs", secret_dirs=[tmp_path / "cache"])
    executor = LocalExecutor(runner, gpu_ids=["7"])  # a slot as the GPU node's executor would have it
    with Evaluator(tmp_path / "runs", tmp_path / "cache", executor=executor) as ev:
        gpu = ev.evaluate(GPU_PROBE, problem, budget={"device": "auto"})
        cpu = ev.evaluate(GPU_PROBE, problem, budget={"device": "cpu"})
    assert gpu.status == "succeeded" and cpu.status == "succeeded"
    # The probe encodes what it saw in its predictions; the trusted score of such predictions is known.
    targets = problem.load(tmp_path / "cache").targets
    assert gpu.score == pytest.approx(_probe_score(targets, visible=7.0, cuda=1.0), rel=1e-9)
    assert cpu.score == pytest.approx(_probe_score(targets, visible=-1.0, cuda=0.0), rel=1e-9)
    assert gpu.device == "cuda" and gpu.gpu["ids"] == ["7"] and gpu.gpu["gpu_seconds"] >= 0
    assert gpu.protections["gpu"]["cuda_visible_devices"] == "7"
    assert gpu.protections["rlimits"].get("data_segment_mb") == gpu.budget["memory_mb"]
    assert cpu.device == "cpu" and cpu.gpu is None and "gpu" not in cpu.protections
    assert executor.gpus.total == 1 and executor.gpus.take() == "7"  # the slot was given back


def _probe_score(targets: np.ndarray, *, visible: float, cuda: float) -> float:
    predictions = np.zeros(targets.shape)
    predictions.flat[0], predictions.flat[1] = visible, cuda
    return float(np.linalg.norm((predictions - targets).ravel()) / np.linalg.norm(targets.ravel()))


def test_jail_environment_pins_or_hides_gpus():
    backend = choose_backend("auto")
    common = dict(
        backend=backend,
        task_dir=Path("/tmp/t"),
        scratch_dir=Path("/tmp/s"),
        lib_dir=Path("/tmp/l"),
        cpu_threads=1,
        uid=None,
        secret_dirs=[],
    )
    cpu = plan_launch(limits=Limits(), **common)
    gpu = plan_launch(limits=Limits(gpu=True), gpu_ids=["3"], **common)
    assert cpu.env["CUDA_VISIBLE_DEVICES"] == "" and "gpu" not in cpu.protections
    assert gpu.env["CUDA_VISIBLE_DEVICES"] == "3" and gpu.env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert (
        "data_segment_mb" in gpu.protections["rlimits"] and "address_space_mb" in cpu.protections["rlimits"]
    )


def test_device_resolution_and_visible_gpus(tmp_path):
    assert resolve_device("cpu", ["0"]) == "cpu"
    assert resolve_device("auto", []) == "cpu" and resolve_device("auto", ["1"]) == "cuda"
    assert resolve_device("cuda", None) is None and resolve_device("cuda:1", ["1"]) == "cuda"
    assert wants_gpu("auto") and wants_gpu("cuda:0") and not wants_gpu("cpu")
    dev = tmp_path / "dev"
    dev.mkdir()
    assert visible_gpu_ids({}, dev) == []  # no driver: no GPU whatever the environment says
    for name in ("nvidiactl", "nvidia-uvm", "nvidia0", "nvidia1", "nvidia10"):
        (dev / name).touch()
    assert visible_gpu_ids({}, dev) == ["0", "1", "10"]
    assert visible_gpu_ids({"CUDA_VISIBLE_DEVICES": "1"}, dev) == ["1"]
    assert visible_gpu_ids({"CUDA_VISIBLE_DEVICES": ""}, dev) == []
    assert visible_gpu_ids({"CUDA_VISIBLE_DEVICES": "-1"}, dev) == []


def test_gpu_slots_hand_out_each_gpu_once():
    slots = GpuSlots(["0", "1"])
    first, second = slots.take(), slots.take()
    assert {first, second} == {"0", "1"}
    cancel = threading.Event()
    cancel.set()
    assert slots.take(cancel) is None  # none free, and the waiter was cancelled
    got: list[str | None] = []
    waiter = threading.Thread(target=lambda: got.append(slots.take()))
    waiter.start()
    slots.give_back(first)
    waiter.join(5)
    assert got == [first]


def test_worker_side_prediction_reader_refuses_links_and_oversized_files(tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, np.zeros(10))
    data, problem = read_predictions(str(good), [10])
    assert problem is None and data == good.read_bytes()
    link = tmp_path / "link.npy"
    link.symlink_to(good)
    assert read_predictions(str(link), [10])[0] is None
    big = tmp_path / "big.npy"
    np.save(big, np.zeros(100_000))
    data, problem = read_predictions(str(big), [10])
    assert data is None and "more than" in problem


def test_log_relay_counts_attempts_and_hands_records_over_once():
    relay = LogRelay()
    relay.started("e", {"node_id": "a"})
    relay.push("e", [{"step": 0}, {"step": 1}])
    relay.started("e", {"node_id": "b"})  # a retry on another node
    records, starts = relay.pull("e")
    assert [r["step"] for r in records] == [0, 1] and [s["node_id"] for s in starts] == ["a", "b"]
    assert relay.pull("e")[0] == []
    relay.forget("e")
    assert relay.pull("e") == ([], [])


def test_settings_choose_the_executor(monkeypatch, tmp_path):
    from pydantic import ValidationError

    from app.settings import Settings

    monkeypatch.setenv("EXECUTOR", "ray")
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")
    monkeypatch.setenv("AGENTIC_SCIML_RAY_GPUS_PER_EVALUATION", "1")
    settings = Settings(data_dir=tmp_path)
    assert (settings.executor, settings.ray_address, settings.ray_gpus_per_evaluation) == (
        "ray",
        "10.0.0.5:6379",
        1,
    )
    monkeypatch.setenv("EXECUTOR", "kubernetes")
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path)
    monkeypatch.delenv("EXECUTOR")
    local = Settings(data_dir=tmp_path)
    assert local.executor == "local"
    with Evaluator.from_settings(local) as ev:
        assert isinstance(ev.executor, LocalExecutor)
        assert ev.executor.describe()["executor"] == "local"


def test_ray_resource_requests_follow_the_budget_and_refuse_what_no_node_has(tmp_path):
    pytest.importorskip("ray")
    from sandbox.executors.ray_executor import RayExecutor, RayResources
    from sandbox.runtime.task import Budget

    def executor(nodes: list[dict[str, float]], **resources) -> RayExecutor:
        ex = object.__new__(RayExecutor)  # no cluster: only the request logic is under test
        ex.resources = RayResources(**resources)
        ex._alive_nodes = lambda: nodes  # type: ignore[method-assign]
        return ex

    cpu_nodes = [{"CPU": 4.0, "memory": 8 * 2**30}]
    gpu_nodes = cpu_nodes + [{"CPU": 8.0, "GPU": 2.0, "memory": 32 * 2**30}]
    cpu, cuda, auto = Budget(device="cpu", memory_mb=2048), Budget(device="cuda"), Budget(device="auto")
    assert executor(gpu_nodes).request_for(cpu) == {"num_cpus": 1.0, "num_gpus": 0.0, "memory": 2048 * 2**20}
    assert executor(gpu_nodes).request_for(cuda)["num_gpus"] == 1.0
    assert executor(gpu_nodes).request_for(auto)["num_gpus"] == 1.0
    assert executor(cpu_nodes).request_for(auto)["num_gpus"] == 0.0  # auto on a CPU cluster: CPU
    assert executor(cpu_nodes).request_for(cuda)["num_gpus"] == 1.0  # cuda insists, and is refused below
    tuned = executor(gpu_nodes, cpus=2, gpus=0.5, memory_mb=512).request_for(cuda)
    assert tuned == {"num_cpus": 2.0, "num_gpus": 0.5, "memory": 512 * 2**20}
    assert executor(gpu_nodes)._infeasible(executor(gpu_nodes).request_for(cuda)) is None
    refusal = executor(cpu_nodes)._infeasible(executor(cpu_nodes).request_for(cuda))
    assert "no live Ray node" in refusal and "1 GPU" in refusal and "0 GPU each" in refusal
    assert "CPU" in executor(cpu_nodes, cpus=16)._infeasible(executor(cpu_nodes, cpus=16).request_for(cpu))
