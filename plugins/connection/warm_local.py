# Copyright (c) 2026 smartstream contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: warm_local
short_description: Run on the controller, with Python modules run in forks of one warm interpreter
version_added: 1.0.0
description:
  - The C(ansible.builtin.local) connection, except for Python modules. The
    run's first task starts a module host for this C(ansible-playbook) run in
    the background (it warms up while the controller runs the first tasks; the
    first module waits for it), which imports boto3 and parses botocore's data
    files for the platform's services once; every Python module then runs in
    a fork of that host instead of a new Python process.
  - A module run costs about 0.05 s instead of about 0.55 s (a new Python,
    the boto3 import and the parsing of botocore's data files, per task).
    The module, its arguments, its result and its C(changed) are the same.
    The fork gets the same AnsiballZ payload, the task's environment, the
    working directory and umask, an empty stdin, and its own stdout, stderr
    and exit status, as a subprocess does.
  - Falls back to the plain local connection for anything else, and for a
    module whose interpreter is not the controller's own Python
    (C(ansible_python_interpreter) must be C({{ ansible_playbook_python }})),
    with C(become), or without pipelining.
  - The host listens on a Unix socket in a directory only the controller's
    user can enter (under the system temporary directory) and exits when
    the C(ansible-playbook) process has gone, or after 15 idle minutes.
  - The host changes one thing in botocore, in itself only. All sessions
    share one data loader per data path, so that a module's client finds its
    service model already parsed.
  - Independently of the host, the AnsiballZ payloads Ansible builds in a run
    (0.1-0.5 s per distinct module, ~10 s of a no-op converge of the platform)
    are kept between runs in a folder private to the user
    (C($XDG_CACHE_HOME/smartstream/ansiballz/<ansible-core version>)), and put
    into a later run's cache only where every file of the payload is byte for
    byte the file Ansible would read now. See O(ansiballz_store).
author:
  - SmartStream platform team (@smartstream)
options:
  pipelining:
    description:
      - Pipe modules to the interpreter instead of copying them to a file.
        The warm host needs it. Without it, every module takes the plain local path.
    type: boolean
    default: true
    env:
      - name: ANSIBLE_PIPELINING
    ini:
      - section: defaults
        key: pipelining
      - section: connection
        key: pipelining
    vars:
      - name: ansible_pipelining
  warm:
    description:
      - Run Python modules in the warm host. C(false) makes this connection
        the plain local connection.
    type: boolean
    default: true
    env:
      - name: SMARTSTREAM_WARM_MODULES
    vars:
      - name: smartstream_warm_modules
  ansiballz_store:
    description:
      - Keep built AnsiballZ payloads between runs and reuse those whose files
        are all unchanged (the module, its module_utils, from the ansible-core
        and collections this run would use). A changed file means a new build.
      - One case a content check cannot see is an optional import (in
        C(try/except ImportError)) of a module_utils file added to an
        installed collection after the payload was built. Set this to
        C(false), or delete the folder, after adding files to a collection.
    type: boolean
    default: true
    env:
      - name: SMARTSTREAM_ANSIBALLZ_STORE
    vars:
      - name: smartstream_ansiballz_store
  warm_start_timeout:
    description: Seconds to wait for the host to listen when it is started.
    type: int
    default: 60
    vars:
      - name: smartstream_warm_start_timeout
  become_success_timeout:
    description: As for C(ansible.builtin.local).
    type: int
    default: 10
    vars:
      - name: ansible_local_become_success_timeout
  become_strip_preamble:
    description: As for C(ansible.builtin.local).
    type: bool
    default: true
    vars:
      - name: ansible_local_become_strip_preamble
notes:
  - The remote user is ignored; modules run as the user running C(ansible-playbook).
"""

import contextlib
import fcntl
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.connection.local import Connection as LocalConnection
from ansible.utils.display import Display
from ansible_collections.smartstream.pipeline.plugins.plugin_utils import ansiballz_store
from ansible_collections.smartstream.pipeline.plugins.plugin_utils import warm_module_host as host

display = Display()


class Connection(LocalConnection):
    """Local connection whose Python modules run in forks of a warm module host."""

    transport = "smartstream.pipeline.warm_local"

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        # Runs in each task's worker before its action plugin builds the module.
        # The run's first task starts priming the cache in the background; a
        # later task that may build a module waits until it is done (at once,
        # usually) so that its module is found primed, not built again.
        action = (task_keys or {}).get("action") or ""
        self._ansiballz_store(_prime if _CONTROLLER_ONLY.match(action) else _prime_or_wait)
        try:
            self._start_host_early()
        except (OSError, AnsibleConnectionFailure) as ex:  # the first module starts it then, or says why it cannot
            display.vvv(f"warm module host not started early: {ex}")

    def exec_command(self, cmd, in_data=None, sudoable=True):
        self._ansiballz_store(ansiballz_store.save)  # a module run: its payload was just built (or reused)
        request = self._warm_request(cmd, in_data)
        if request is None:
            return super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        display.vvv(f"EXEC (warm module host) {cmd}", host=self._play_context.remote_addr)
        path = self._host_socket()
        try:
            with self._connect_host(path) as conn:
                host.send_frame(conn, json.dumps(request).encode())
                host.send_frame(conn, in_data)
                status = json.loads(host.recv_frame(conn))
                stdout = host.recv_frame(conn)
                stderr = host.recv_frame(conn)
        except OSError as ex:
            raise AnsibleConnectionFailure(
                f"the warm module host ({path}) failed while running a module: {ex}. "
                "Run again, or set smartstream_warm_modules=false to run modules as plain local processes."
            ) from ex
        return status["rc"], stdout, stderr

    def _ansiballz_store(self, step):
        """Prime this run's AnsiballZ cache from the store, or save its new builds there."""
        if not self.get_option("ansiballz_store"):
            return
        try:
            done = step(ansiballz_store.run_folder(), ansiballz_store.store_folder())
        except Exception as ex:  # a cache: never fails a task, the run builds as usual
            display.warning(f"AnsiballZ store not used: {ex}")
            return
        if done:
            display.vvv(f"AnsiballZ store, {step.__name__}: {', '.join(done)}")

    def _warm_request(self, cmd, in_data):
        """The request for the host, or None when this command is not a pipelined module of our Python."""
        if in_data is None or not self.get_option("warm") or self.become or not self.get_option("pipelining"):
            return None
        inner = _shell_command(cmd)
        if inner is None:
            return None
        words = shlex.split(inner)
        if words[-3:-1] != ["&&", "sleep"] or words[-1] != "0":
            return None
        *assignments, interpreter = words[:-3]
        if interpreter != sys.executable or not all(_is_assignment(word) for word in assignments):
            return None
        env = dict(os.environ)
        env.update(word.split("=", 1) for word in assignments)
        umask = os.umask(0o022)
        os.umask(umask)
        return {"env": env, "cwd": self.cwd or os.getcwd(), "umask": umask, "interpreter": interpreter}

    def _connect_host(self, path):
        """A connection to this run's host; started here unless a task of this run started it already."""
        try:
            return _connected(path)
        except (FileNotFoundError, ConnectionRefusedError):
            pass
        with open(host.companion(path, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return _connected(path)  # another task of this run started it meanwhile
            except (FileNotFoundError, ConnectionRefusedError):
                pid = _starting_host(path) or self._spawn_host(path)
                self._wait_for_host(path, pid)
        return _connected(path)

    def _start_host_early(self):
        """Start this run's host without waiting for it, so that it warms up while controller tasks run.

        Called for every task; only the first one of a run that finds no host
        (and gets the lock without waiting) starts it. The first module waits
        for it to listen (``_connect_host``).
        """
        if not self.get_option("warm") or not self.get_option("pipelining"):
            return
        path = self._host_socket()
        if os.path.exists(path):
            return
        with open(host.companion(path, ".lock"), "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # a task of this run is starting it or connecting
            if not os.path.exists(path) and not _starting_host(path):
                self._spawn_host(path)

    def _host_socket(self):
        """The path of this run's host socket, in a folder private to this user."""
        controller = os.getppid()  # the ansible-playbook process; each task runs in a fork of it
        folder = os.path.join(tempfile.gettempdir(), f"smartstream-warm-{os.getuid()}")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.stat(folder)
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise AnsibleConnectionFailure(f"{folder} must belong to this user and be private (mode 0700)")
        return os.path.join(folder, f"{controller}.sock")

    def _spawn_host(self, path):
        """Start a host for this run's socket; returns its pid (it listens once warm)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # a host of an earlier run with this process id, gone
        with open(host.companion(path, ".log"), "wb") as log:
            process = subprocess.Popen(
                [sys.executable, host.__file__, path, str(os.getppid())],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
        with open(host.companion(path, ".pid"), "w") as pid_file:
            pid_file.write(str(process.pid))
        display.vvv(f"warm module host starting: pid {process.pid}, {path}")
        return process.pid

    def _wait_for_host(self, path, pid):
        deadline = time.monotonic() + self.get_option("warm_start_timeout")
        while not os.path.exists(path):
            if host.process_state(pid) in (None, b"Z") or time.monotonic() > deadline:
                with open(host.companion(path, ".log"), "rb") as log:
                    detail = log.read().decode(errors="replace")[-2000:]
                raise AnsibleConnectionFailure(f"the warm module host did not start: {detail or 'no output'}")
            time.sleep(0.02)


# Actions that build no module (they run on the controller): they need not wait for the priming.
_CONTROLLER_ONLY = re.compile(
    r"^(ansible\.(builtin|legacy)\.)?(set_fact|debug|assert|fail|meta|include_tasks|import_tasks|include_role"
    r"|import_role|include_vars|validate_argument_spec)$|^smartstream\.pipeline\.preflight$"
)


def _prime(run, store):
    return ["priming in the background"] if ansiballz_store.prime_in_background(run, store) else []


def _prime_or_wait(run, store):
    started = _prime(run, store)
    if not started:
        ansiballz_store.wait_for_priming(run)
    return started


def _starting_host(path):
    """The pid of a host started for this socket that runs and does not listen yet, or None."""
    try:
        with open(host.companion(path, ".pid")) as pid_file:
            pid = int(pid_file.read())
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            started_for_path = path.encode() in cmdline.read().split(b"\0")
    except (OSError, ValueError):  # none, or no /proc to tell: start one
        return None
    return pid if started_for_path and host.process_state(pid) not in (None, b"Z") else None


def _shell_command(cmd):
    """The command string of ``<shell> -c '<command>'``, as ActionBase builds it."""
    if not isinstance(cmd, str):
        return None
    try:
        words = shlex.split(cmd)
    except ValueError:
        return None
    if len(words) != 3 or words[1] != "-c":
        return None
    return words[2]


def _is_assignment(word):
    name, sep = word.partition("=")[:2]
    return bool(sep) and name.isidentifier()


def _connected(path):
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:
        conn.close()
        raise
    return conn
