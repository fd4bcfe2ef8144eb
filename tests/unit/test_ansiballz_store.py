"""AnsiballZ payloads kept between runs: reused only while every file in them is the file Ansible would read."""

from __future__ import annotations

import base64
import io
import os
import pickle
import zipfile
from pathlib import Path

import ansible
import pytest
from ansible.executor.module_common import _CachedModule
from ansible_collections.smartstream.pipeline.plugins.plugin_utils import ansiballz_store as store

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PARENT = Path(ansible.__file__).resolve().parents[1]
MODULE = "ansible_collections/smartstream/pipeline/plugins/modules/athena_view.py"
NAME = "ansible_collections.smartstream.pipeline.plugins.modules.athena_view-ZIP_DEFLATED-none"


def sources() -> store.SourceFiles:
    files = store.SourceFiles()
    files.collections["smartstream.pipeline"] = str(ROOT)  # what the run's collection loader finds
    return files


def entry(folder: Path, name: str = NAME, **changed: bytes) -> Path:
    """An Ansible cache entry whose payload holds these files (as Ansible writes them unless changed)."""
    members = {
        "ansible/__init__.py": store._made_by_ansible()["ansible/__init__.py"],
        "ansible/module_utils/basic.py": (ANSIBLE_PARENT / "ansible/module_utils/basic.py").read_bytes(),
        "ansible_collections/__init__.py": b"",
        "ansible_collections/smartstream/__init__.py": b"",
        MODULE: (ROOT / "plugins/modules/athena_view.py").read_bytes(),
    }
    members.update(changed)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as payload:
        for member, data in members.items():
            payload.writestr(member, data)
    path = folder / name
    path.write_bytes(
        pickle.dumps(_CachedModule(zip_data=base64.b64encode(buffer.getvalue()), metadata=None, source_mapping={}))
    )
    return path


@pytest.fixture
def folders(tmp_path):
    run, kept = tmp_path / "run", tmp_path / "store"
    run.mkdir()
    kept.mkdir(mode=0o700)
    return run, kept


def test_an_unchanged_entry_goes_into_the_run_once(folders):
    run, kept = folders
    entry(kept)
    assert store.prime(str(run), str(kept), sources()) == [NAME]
    assert (run / NAME).read_bytes() == (kept / NAME).read_bytes()
    (run / NAME).unlink()
    assert store.prime(str(run), str(kept), sources()) == []  # once per run
    assert not (run / NAME).exists()


@pytest.mark.parametrize(
    "changed",
    [
        {MODULE: b"# the module was edited\n"},
        {"ansible/module_utils/basic.py": b"# another ansible-core\n"},
        {"ansible/__init__.py": b'__version__="0.0.1"\n'},
        {"ansible_collections/smartstream/__init__.py": b"x = 1\n"},  # Ansible would write an empty one
        {"ansible_collections/smartstream/pipeline/plugins/module_utils/gone.py": b"x = 1\n"},
        {"elsewhere/thing.py": b""},
    ],
    ids=["module", "module_utils", "ansible-version", "package-init", "file-gone", "unknown-root"],
)
def test_an_entry_with_any_file_changed_or_gone_is_left_to_a_new_build(folders, changed):
    run, kept = folders
    entry(kept, **changed)
    assert store.prime(str(run), str(kept), sources()) == []
    assert not (run / NAME).exists()


def test_a_collection_found_elsewhere_now_means_a_new_build(folders, tmp_path):
    run, kept = folders
    entry(kept)
    files = store.SourceFiles()
    files.collections["smartstream.pipeline"] = str(tmp_path / "another-copy")
    assert store.prime(str(run), str(kept), files) == []


def test_configured_module_utils_folders_turn_reuse_off(folders, monkeypatch):
    run, kept = folders
    entry(kept)
    monkeypatch.setattr(store, "other_module_utils_paths", lambda: ["/somewhere/module_utils"])
    assert store.prime(str(run), str(kept), sources()) == []


def test_not_an_entry_is_never_primed(folders):
    run, kept = folders
    (kept / NAME).write_bytes(b"garbage")
    assert store.prime(str(run), str(kept), sources()) == []


def test_builds_of_the_run_are_saved_once_and_primed_ones_not_again(folders):
    run, kept = folders
    entry(kept)
    store.prime(str(run), str(kept), sources())
    built = "ansible.modules.command-ZIP_DEFLATED-none"
    (run / built).write_bytes(b"built in this run")
    (run / f"{built}.lock").write_bytes(b"")
    assert store.save(str(run), str(kept)) == [built]
    assert (kept / built).read_bytes() == b"built in this run"
    assert store.save(str(run), str(kept)) == []
    assert sorted(os.listdir(kept)) == sorted([NAME, built])


def test_a_rebuilt_entry_replaces_the_stale_one(folders):
    run, kept = folders
    entry(kept, **{MODULE: b"# old\n"})
    assert store.prime(str(run), str(kept), sources()) == []
    fresh = entry(run)  # what Ansible built, as the run's cache holds it
    assert store.save(str(run), str(kept)) == [NAME]
    assert (kept / NAME).read_bytes() == fresh.read_bytes()


def test_the_store_folder_is_private(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = Path(store.store_folder())
    assert folder.stat().st_mode & 0o777 == 0o700
    folder.chmod(0o755)
    with pytest.raises(PermissionError, match="private"):
        store.store_folder()
    folder.chmod(0o700)
    folder.parent.chmod(0o777)
    with pytest.raises(PermissionError, match="nobody else"):
        store.store_folder()


def test_priming_in_the_background_returns_at_once_and_later_tasks_wait_for_it(folders, monkeypatch):
    import time

    run, kept = folders

    def slow_prime(run_folder, store_folder):
        time.sleep(0.5)
        (Path(run_folder) / "done").write_text(str(os.getpid()))

    monkeypatch.setattr(store, "prime", slow_prime)
    started = time.monotonic()
    assert store.prime_in_background(str(run), str(kept)) is True
    assert time.monotonic() - started < 0.3  # the task goes on
    assert store.prime_in_background(str(run), str(kept)) is False  # one priming per run
    store.wait_for_priming(str(run))
    assert (run / "done").read_text() != str(os.getpid())  # done, by the child


def test_a_primed_run_is_not_primed_again_and_nothing_waits(folders):
    run, kept = folders
    (run / store.PRIMED).write_text("")
    assert store.prime_in_background(str(run), str(kept)) is False
    store.wait_for_priming(str(run))  # no lock file: returns at once
