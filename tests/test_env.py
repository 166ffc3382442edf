"""cnnedu.env: the cgroup CPU quota that caps torch's threads (Binder, containers)."""

import pytest
import torch

from cnnedu import env


@pytest.mark.parametrize(("text", "expected"),
                         [("max 100000\n", None), ("150000 100000\n", 1.5), ("50000 100000", 0.5)])
def test_cpu_quota_reads_cgroup_v2(tmp_path, text, expected):
    (tmp_path / "cpu.max").write_text(text)
    assert env.cpu_quota(tmp_path / "cpu.max", (tmp_path / "no", tmp_path / "no")) == expected


def test_cpu_quota_reads_cgroup_v1_and_tolerates_missing_or_bad_files(tmp_path):
    quota, period = tmp_path / "q", tmp_path / "p"
    quota.write_text("200000\n")
    period.write_text("100000\n")
    assert env.cpu_quota(tmp_path / "absent", (quota, period)) == 2.0
    quota.write_text("-1\n")
    assert env.cpu_quota(tmp_path / "absent", (quota, period)) is None
    quota.write_text("garbage")
    assert env.cpu_quota(tmp_path / "absent", (quota, period)) is None
    assert env.cpu_quota(tmp_path / "absent", (tmp_path / "a", tmp_path / "b")) is None


def test_course_threads_one_on_small_machines_and_one_per_cpu_above():
    assert [env.course_threads(n) for n in (1, 2, 3, 8)] == [1, 1, 3, 8]


def test_usable_cpus_is_capped_by_the_quota_rounded_up():
    assert env.usable_cpus(0.5) == 1 and env.usable_cpus(0.3) == 1
    assert env.usable_cpus(1.5) == min(2, env.usable_cpus(1000.0))
    assert 1 <= env.usable_cpus(1000.0) <= (__import__("os").cpu_count() or 1)


def test_setup_picks_the_threads_lowers_only_and_obeys_the_override(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("CNNEDU_THREADS", raising=False)
        monkeypatch.setattr(env, "usable_cpus", lambda quota=None: 2)
        torch.set_num_threads(2)
        env.setup(verbose=False)
        assert torch.get_num_threads() == 1  # a 2-core machine: one thread
        monkeypatch.setattr(env, "usable_cpus", lambda quota=None: 8)
        env.setup(verbose=False)
        assert torch.get_num_threads() == 1  # the automatic choice never raises the count
        env.setup(verbose=False, threads=2)
        assert torch.get_num_threads() == 2  # an explicit count is obeyed
        monkeypatch.setenv("CNNEDU_THREADS", "3")
        env.setup(verbose=False)
        assert torch.get_num_threads() == 3
        monkeypatch.setenv("CNNEDU_THREADS", "many")
        with pytest.raises(ValueError, match="CNNEDU_THREADS"):
            env.setup(verbose=False)
    finally:
        torch.set_num_threads(before)
