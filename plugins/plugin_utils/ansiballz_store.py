# Copyright (c) 2026 smartstream contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AnsiballZ payloads kept between runs, reused only where every file in them is unchanged.

Ansible builds a Python module's AnsiballZ payload (the module and every
module_utils file it imports, found by parsing each file's imports) once per
``ansible-playbook`` run, into ``ansiballz_cache`` in the run's temporary
directory, which is removed when the run ends. A converge of the platform
uses ~60 modules and pays 0.1-0.5 s for each build: ~10 s of a 38 s no-op.

This store keeps the entries of that cache between runs, in a folder private
to the user (``$XDG_CACHE_HOME/smartstream/ansiballz/<ansible-core version>``),
and puts an entry into a new run's cache only when every file of its payload
is byte for byte the file Ansible would read now: ``ansible/...`` from the
installed ansible-core, ``ansible_collections/<ns>/<name>/...`` from where
the run's collection loader finds that collection. An empty ``__init__.py``
Ansible generates for a package without one stands for a missing file. Any
other difference (an edited module or module_utils, another collection
version earlier in the collections path, a redirected module_utils shim)
leaves the entry out, and Ansible builds that module as usual; the new build
then replaces the stored one.

One case a content check cannot see: an *optional* import (inside
``try/except ImportError``) of a module_utils file that did not exist when the
payload was built and exists now. Ansible would add it to a new build; the
stored payload lacks it, and the module takes its ``except`` branch. Adding
files to an installed collection without changing any file the module
already uses is the only way to get there; delete the store (or set
``smartstream_ansiballz_store=false``) after doing so.

Entries are Ansible's own cache files (pickles of ``_CachedModule``); they
are read only from a folder owned by this user with mode 0700, the same trust
as the collections Ansible imports from ``~/.ansible``.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import io
import os
import pickle
import shutil
import zipfile

PRIMED = ".smartstream-primed"
PRIMING = ".smartstream-priming"  # locked while a run's cache is primed (prime_in_background)
SAVED = ".smartstream-saved"
_SKIP_SUFFIXES = (".lock", "-part")


def store_folder() -> str:
    """This user's store for the installed ansible-core, created private (0700)."""
    from ansible.release import __version__

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    ours = os.path.join(base, "smartstream", "ansiballz")
    folder = os.path.join(ours, __version__)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for path in (os.path.dirname(ours), ours):  # nobody else may swap the folder
        info = os.stat(path)
        if info.st_uid != os.getuid() or info.st_mode & 0o022:
            raise PermissionError(f"{path} must belong to this user and be writable by nobody else")
    info = os.stat(folder)
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(f"{folder} must belong to this user and be private (mode 0700)")
    return folder


def run_folder() -> str:
    """The AnsiballZ cache of this ``ansible-playbook`` run (``ansible.executor.module_common``)."""
    from ansible import constants as C

    return os.path.join(C.DEFAULT_LOCAL_TMP, "ansiballz_cache")


def _entries(folder: str) -> list[str]:
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return [n for n in names if not n.startswith(".") and not n.endswith(_SKIP_SUFFIXES)]


def _copy_atomically(source: str, target: str) -> None:
    part = f"{target}.{os.getpid()}-part"
    shutil.copyfile(source, part)
    os.chmod(part, 0o600)
    os.replace(part, target)


def prime(run: str, store: str, sources: SourceFiles | None = None) -> list[str]:
    """Copy the store's still-valid entries into the run's cache, once per run; the names copied."""
    os.makedirs(run, exist_ok=True)
    try:
        marker = os.open(os.path.join(run, PRIMED), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return []  # another task of this run primed it (or is priming it: it then builds what it needs)
    sources = sources or SourceFiles()
    primed = []
    try:
        for name in [] if other_module_utils_paths() else _entries(store):
            target = os.path.join(run, name)
            if os.path.exists(target) or not sources.payload_is_current(os.path.join(store, name)):
                continue
            _copy_atomically(os.path.join(store, name), target)
            primed.append(name)
    finally:
        os.write(marker, "".join(f"{name}\n" for name in primed).encode())
        os.close(marker)
    return primed


def prime_in_background(run: str, store: str) -> bool:
    """Start priming the run's cache in a child process, once per run; whether this call started it.

    The caller goes on at once (the run's first task need not wait ~0.3 s for
    ~60 payloads to be checked). The child holds the run's PRIMING lock until it
    is done, taken before the fork so that no later task can miss it;
    ``wait_for_priming`` waits for it.
    """
    os.makedirs(run, exist_ok=True)
    if os.path.exists(os.path.join(run, PRIMED)):
        return False
    lock = os.open(os.path.join(run, PRIMING), os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # another task of this run is priming it
        if os.fork() == 0:  # the child: the lock's file description is shared, it stays locked until the child ends
            try:
                prime(run, store)
            finally:
                os._exit(0)
        return True
    finally:
        os.close(lock)


def wait_for_priming(run: str) -> None:
    """Wait until no task of this run is priming its cache (at once when none is)."""
    try:
        lock = os.open(os.path.join(run, PRIMING), os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(lock, fcntl.LOCK_SH)
    finally:
        os.close(lock)


def save(run: str, store: str) -> list[str]:
    """Copy the run's entries that were built in this run (not primed, not saved yet) to the store."""
    done = set()
    for marker in (PRIMED, SAVED):
        with contextlib.suppress(FileNotFoundError), open(os.path.join(run, marker)) as handle:
            done.update(handle.read().split())
    saved = []
    for name in _entries(run):
        if name in done:
            continue
        _copy_atomically(os.path.join(run, name), os.path.join(store, name))
        saved.append(name)
    if saved:
        with open(os.path.join(run, SAVED), "a") as handle:
            handle.write("".join(f"{name}\n" for name in saved))
    return saved


def _made_by_ansible() -> dict[str, bytes]:
    """The package files Ansible writes into every payload instead of its own (``recursive_finder``)."""
    from ansible.release import __author__, __version__

    namespace = b"from pkgutil import extend_path\n__path__=extend_path(__path__,__name__)\n"
    return {
        "ansible/__init__.py": namespace + f'__version__="{__version__}"\n__author__="{__author__}"\n'.encode(),
        "ansible/module_utils/__init__.py": namespace,
    }


def other_module_utils_paths() -> list[str]:
    """Configured module_utils folders that exist: their files shadow ansible's, the store is not used."""
    import ansible.module_utils
    from ansible.plugins.loader import module_utils_loader

    own = os.path.realpath(os.path.dirname(ansible.module_utils.__file__))
    paths = module_utils_loader._get_paths(subdirs=False)
    return [p for p in paths if os.path.isdir(p) and os.path.realpath(p) != own]


class SourceFiles:
    """The bytes Ansible would read now for a payload member (read once per path)."""

    def __init__(self) -> None:
        import ansible

        self.ansible_parent = os.path.dirname(os.path.dirname(os.path.abspath(ansible.__file__)))
        self.made_by_ansible = _made_by_ansible()
        self.collections: dict[str, str | None] = {}
        self.contents: dict[str, bytes | None] = {}

    def payload_is_current(self, entry: str) -> bool:
        try:
            with open(entry, "rb") as handle:
                cached = pickle.load(handle)
            payload = zipfile.ZipFile(io.BytesIO(base64.b64decode(cached.zip_data)))
            return all(self._member_is_current(payload, info) for info in payload.infolist())
        except Exception:  # not an entry this code understands (another ansible-core?): rebuild it
            return False

    def _member_is_current(self, payload: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
        path = self.source_path(info.filename)
        if path is None:
            return False
        data = payload.read(info)
        if info.filename in self.made_by_ansible:
            return data == self.made_by_ansible[info.filename]
        current = self._read(path) if path else None
        if current is None:  # a package Ansible gives an empty __init__.py
            return data == b"" and info.filename.endswith("/__init__.py")
        return current == data

    def source_path(self, member: str) -> str | None:
        """The file a payload member comes from; "" for a package only Ansible makes; None: unknown."""
        parts = member.split("/")
        if parts[0] == "ansible":
            return os.path.join(self.ansible_parent, *parts)
        if parts[0] == "ansible_collections":
            if len(parts) < 4:  # ansible_collections/__init__.py, ansible_collections/<ns>/__init__.py
                return ""
            root = self._collection_root(f"{parts[1]}.{parts[2]}")
            return None if root is None else os.path.join(root, *parts[3:])
        return None

    def _collection_root(self, name: str) -> str | None:
        if name not in self.collections:
            from ansible.utils.collection_loader._collection_finder import _get_collection_path

            try:
                self.collections[name] = _get_collection_path(name)
            except Exception:
                self.collections[name] = None
        return self.collections[name]

    def _read(self, path: str) -> bytes | None:
        if path not in self.contents:
            try:
                with open(path, "rb") as handle:
                    self.contents[path] = handle.read()
            except (FileNotFoundError, NotADirectoryError):
                self.contents[path] = None
        return self.contents[path]
