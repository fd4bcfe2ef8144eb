"""A module's process runs a payload as `python -` would: its own exit, output, environment and globals."""

from __future__ import annotations

import json
import os
import signal
import sys

import pytest
from ansible_collections.smartstream.pipeline.plugins.plugin_utils import warm_module_process as process


def run(code: str, **request):
    base = {"env": {"WARM": "yes"}, "cwd": "/", "umask": 0o027, "interpreter": sys.executable}
    return process.run_payload({**base, **request}, code.encode())


def test_output_and_exit_status_are_the_payloads():
    rc, out, err = run("import sys\nprint('{\"changed\": false}')\nprint('warn', file=sys.stderr)\nsys.exit(0)")
    assert (rc, out, err) == (0, b'{"changed": false}\n', b"warn\n")


@pytest.mark.parametrize(
    ("code", "rc"),
    [
        ("import sys; sys.exit(3)", 3),
        ("import os; os._exit(5)", 5),
        ("pass", 0),
        ("import sys; sys.exit('fatal')", 1),
        (f"import os; os.kill(os.getpid(), {int(signal.SIGKILL)})", -signal.SIGKILL),
    ],
)
def test_every_way_of_ending_gives_the_status_a_subprocess_would(code, rc):
    assert run(code)[0] == rc


def test_an_uncaught_exception_is_status_1_with_its_traceback():
    rc, _, err = run("raise ValueError('boom')")
    assert rc == 1
    assert b"ValueError: boom" in err


def test_the_request_sets_environment_cwd_umask_stdin_and_argv(tmp_path):
    code = (
        "import json, os, sys\n"
        "mask = os.umask(0); os.umask(mask)\n"
        "print(json.dumps([os.environ.get('WARM'), os.environ.get('HOME'), os.getcwd(), mask, sys.stdin.read(), sys.argv]))"
    )
    rc, out, _ = run(code, cwd=str(tmp_path))
    assert rc == 0
    assert json.loads(out) == ["yes", None, str(tmp_path), 0o027, "", [sys.executable]]


def test_main_is_a_fresh_module_without_a_file_as_for_a_piped_script():
    rc, out, _ = run("import __main__\nprint(hasattr(__main__, '__file__'), __name__)")
    assert (rc, out) == (0, b"False __main__\n")


def test_nothing_a_payload_changes_reaches_the_next_one():
    run("import json\njson.LEAKED = 1\nimport os\nos.environ['LEAK'] = '1'")
    _, out, _ = run("import json, os\nprint(hasattr(json, 'LEAKED'), 'LEAK' in os.environ)")
    assert out == b"False False\n"
    assert not hasattr(json, "LEAKED")
    assert "LEAK" not in os.environ


def test_exit_handlers_of_the_payload_run(tmp_path):
    marker = tmp_path / "cleaned"
    rc, _, _ = run(f"import atexit, sys\natexit.register(lambda: open({str(marker)!r}, 'w').close())\nsys.exit(0)")
    assert rc == 0
    assert marker.exists()


def test_a_payload_that_closes_every_descriptor_still_gives_its_output_and_status():
    """It cannot say how it ended (its end of the pair is closed): its status is the one waitpid gives."""
    rc, out, _ = run("import os, sys\nprint('closing', flush=True)\nos.closerange(3, 4096)\nsys.exit(4)")
    assert (rc, out) == (4, b"closing\n")


def test_output_written_after_the_payload_ended_is_not_part_of_it():
    """A thread still writing once the payload returned writes nowhere, as after the exit of a subprocess."""
    code = (
        "import sys, threading, time\n"
        "def late():\n    time.sleep(0.2)\n    print('late', flush=True)\n"
        "threading.Thread(target=late, daemon=True).start()\nprint('done', flush=True)"
    )
    assert run(code)[:2] == (0, b"done\n")


def test_a_module_process_without_a_request_exits_and_is_reaped():
    module = process.ModuleProcess()
    module.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(module.pid, os.WNOHANG)


def test_a_large_output_comes_back_whole():
    rc, out, _ = run("import sys\nsys.stdout.write('x' * 3_000_000)")
    assert (rc, len(out)) == (0, 3_000_000)


def _zipped(folder, name, source):
    import zipfile

    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("warm_mod.py", source)
    return path


IMPORT_FROM = (
    "import sys\nsys.path.insert(0, {zip!r})\nimport warm_mod\n"
    "print(warm_mod.VALUE, warm_mod.where.__code__.co_filename == warm_mod.__file__)"
)


@pytest.fixture
def code_folder(tmp_path, monkeypatch):
    folder = tmp_path / "code"
    folder.mkdir()
    monkeypatch.setattr(process, "_code_folder", str(folder))
    return folder


def test_a_payload_file_is_compiled_once_per_source_and_named_as_its_importer(tmp_path, code_folder):
    source = "VALUE = 1\ndef where():\n    pass\n"
    first = _zipped(tmp_path, "first.zip", source)
    assert run(IMPORT_FROM.format(zip=str(first)))[1] == b"1 True\n"
    kept = list(code_folder.iterdir())
    assert len(kept) == 1
    # What is kept is what the next payload with that source gets: swap it for other code to see it used.
    import marshal

    kept[0].write_bytes(marshal.dumps(compile("VALUE = 'kept'\ndef where():\n    pass\n", "x", "exec")))
    second = _zipped(tmp_path, "second.zip", source)
    assert run(IMPORT_FROM.format(zip=str(second)))[1] == b"kept True\n"  # its functions carry second.zip's name


def test_another_source_is_compiled_afresh(tmp_path, code_folder):
    run(IMPORT_FROM.format(zip=str(_zipped(tmp_path, "a.zip", "VALUE = 1\ndef where():\n    pass\n"))))
    out = run(IMPORT_FROM.format(zip=str(_zipped(tmp_path, "b.zip", "VALUE = 2\ndef where():\n    pass\n"))))[1]
    assert out == b"2 True\n"
    assert len(list(code_folder.iterdir())) == 2


def test_an_unreadable_kept_file_is_compiled_again(tmp_path, code_folder):
    source = "VALUE = 3\ndef where():\n    pass\n"
    run(IMPORT_FROM.format(zip=str(_zipped(tmp_path, "a.zip", source))))
    for kept in code_folder.iterdir():
        kept.write_bytes(b"not marshal")
    assert run(IMPORT_FROM.format(zip=str(_zipped(tmp_path, "b.zip", source))))[1] == b"3 True\n"


def test_a_file_zipimport_compiles_twice_per_import_is_read_once_per_module_run(tmp_path, code_folder):
    zipped = _zipped(tmp_path, "once.zip", "VALUE = 4\ndef where():\n    pass\n")
    counted = (
        "from ansible_collections.smartstream.pipeline.plugins.plugin_utils import warm_module_process as h\n"
        "calls = []\nkept = h._kept_or_compiled\n"
        "h._kept_or_compiled = lambda *a: calls.append(a[0]) or kept(*a)\n"
        + IMPORT_FROM.format(zip=str(zipped))
        + "\nprint(len(calls))"
    )
    assert run(counted)[1] == b"4 True\n1\n"  # zipimport asked twice (spec file name, then code)
