#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: lambda_package
short_description: Build a byte-for-byte reproducible zip of Lambda function code
version_added: 0.1.0
description:
  - Zips Python package directories into a Lambda deployment package that is identical, byte for
    byte, whenever the source files are. Entries are sorted, with one fixed timestamp, fixed permissions
    and fixed compression; no directory entries; caches and tests are left out.
  - C(amazon.aws.lambda) compares the SHA-256 of the zip with the function's C(CodeSha256) and
    uploads the code when they differ, so a zip rebuilt from unchanged code does not redeploy
    the function. Archiving modules (C(community.general.archive)) record file times and are
    not reproducible.
  - The zip is rewritten only when its content changes; RV(code_sha256) is in the form Lambda
    reports.
  - Runs where the files are (usually the controller).
  - Several zips can be built in one run with I(packages).
author:
  - SmartStream platform team (@smartstream)
options:
  src:
    description:
      - Directories to package. Each is stored under its own name at the root of the zip
        (C(lambdas/transform/smartstream_transform) becomes C(smartstream_transform/...)).
      - Required (with or without I(distributions)) unless I(packages) is given.
    type: list
    elements: path
  distributions:
    description:
      - Installed Python distributions to vendor into the zip, as C(pip) names them. Each one's package
        directory (named as the distribution) and its C(.dist-info) directory are added, from the Python that
        runs the module (on the controller, C(ansible-playbook)'s own, whose pinned packages are the tested ones).
      - For pure-Python packages only (nothing is rebuilt for Lambda's platform).
    type: list
    elements: str
  dest:
    description:
      - Path of the zip to write. Its directory is created when missing.
      - Required unless I(packages) is given.
    type: path
  exclude:
    description:
      - Shell patterns of file or directory names left out.
    type: list
    elements: str
    default: ["__pycache__", "*.pyc", "*.pyo", "tests", ".*"]
  packages:
    description:
      - Several zips built in one run, each described by I(src), I(distributions) and I(dest) as above
        (I(exclude) applies to all). The results are listed in RV(packages), in the same order.
      - Mutually exclusive with I(src), I(distributions) and I(dest).
    type: list
    elements: dict
    suboptions:
      src:
        description: Directories to package.
        type: list
        elements: path
        default: []
      distributions:
        description: Installed Python distributions to vendor.
        type: list
        elements: str
        default: []
      dest:
        description: Path of the zip to write.
        required: true
        type: path
notes:
  - Check mode reports whether the zip would change without writing it.
"""

EXAMPLES = r"""
- name: Package the transform function
  smartstream.pipeline.lambda_package:
    src:
      - "{{ playbook_dir }}/../lambdas/transform/smartstream_transform"
    dest: /tmp/build/transform.zip
  register: transform_zip

- name: Package a function with its pure-Python driver, vendored from the controller's packages
  smartstream.pipeline.lambda_package:
    src:
      - "{{ playbook_dir }}/../lambdas/rotation/smartstream_rotation"
    distributions: [pg8000, scramp, asn1crypto]
    dest: /tmp/build/rotation.zip

- name: Package two functions in one run
  smartstream.pipeline.lambda_package:
    packages:
      - src: ["{{ playbook_dir }}/../lambdas/transform/smartstream_transform"]
        dest: /tmp/build/transform.zip
      - src: ["{{ playbook_dir }}/../lambdas/ml/smartstream_ml"]
        dest: /tmp/build/ml.zip
  register: zips
"""

RETURN = r"""
dest:
  description: Path of the zip.
  returned: without I(packages)
  type: str
  sample: /tmp/build/transform.zip
code_sha256:
  description: Base64 SHA-256 of the zip, as Lambda reports it in C(CodeSha256).
  returned: without I(packages)
  type: str
  sample: 0mM0lRn8yJ2cC1Fm0x3eY1Zo5Zl4m1c2Z3W9aQ8zXhE=
files:
  description: Paths stored in the zip, in order.
  returned: without I(packages)
  type: list
  elements: str
  sample: ["smartstream_transform/__init__.py", "smartstream_transform/handler.py"]
size:
  description: Size of the zip in bytes.
  returned: without I(packages)
  type: int
  sample: 14230
packages:
  description:
    - With I(packages), one entry per zip, in the order given, with RV(dest), RV(code_sha256), RV(files)
      and RV(size) as above, plus C(changed).
  returned: with I(packages)
  type: list
  elements: dict
  sample: [{"dest": "/tmp/build/transform.zip", "changed": false, "code_sha256": "0mM0lRn8yJ2cC1Fm0x3eY1Zo5Zl4m1c2Z3W9aQ8zXhE=",
            "files": ["smartstream_transform/__init__.py"], "size": 14230}]
"""

import base64
import fnmatch
import hashlib
import io
import os
import sys
import tempfile
import zipfile
from importlib import metadata

from ansible.module_utils.basic import AnsibleModule

# 1980-01-01, the earliest time a zip entry can hold: no build time leaks in.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def excluded(name, patterns):
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def collect(sources, patterns):
    """(archive name, file path) of every file to package, sorted by archive name."""
    entries = {}
    for src in sources:
        src = os.path.abspath(src)
        base = os.path.basename(src.rstrip(os.sep))
        for root, dirs, files in os.walk(src):
            dirs[:] = [d for d in dirs if not excluded(d, patterns)]
            for name in files:
                if excluded(name, patterns):
                    continue
                path = os.path.join(root, name)
                arcname = "/".join([base, *os.path.relpath(path, src).split(os.sep)])
                if arcname in entries:
                    raise ValueError(f"{arcname} comes from two sources: {entries[arcname]} and {path}")
                entries[arcname] = path
    return sorted(entries.items())


def build(entries):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for arcname, path in entries:
            info = zipfile.ZipInfo(arcname, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode below is honoured
            info.external_attr = (0o100644 & 0xFFFF) << 16
            with open(path, "rb") as handle:
                archive.writestr(info, handle.read())
    return buffer.getvalue()


def distribution_dirs(names):
    """The package directory and the .dist-info directory of each installed distribution."""
    dirs = []
    for name in names:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise ValueError(f"the Python distribution {name} is not installed for {sys.executable}") from None
        package, info = str(dist.locate_file(name)), str(getattr(dist, "_path", ""))
        if not os.path.isdir(package) or not info.endswith(".dist-info") or not os.path.isdir(info):
            raise ValueError(f"the Python distribution {name} has no package directory {name} and .dist-info to vendor")
        dirs += [package, info]
    return dirs


def package(module, sources, distributions, dest):
    """Build one zip (write it when its content changed): its result."""
    missing = [s for s in sources if not os.path.isdir(s)]
    if missing:
        module.fail_json(msg=f"not a directory: {', '.join(missing)}")
    try:
        sources = list(sources) + distribution_dirs(distributions)
    except ValueError as e:
        module.fail_json(msg=str(e))
    if not sources:
        module.fail_json(msg=f"{dest}: nothing to package (no src, no distributions)")
    try:
        entries = collect(sources, module.params["exclude"])
    except (OSError, ValueError) as e:
        module.fail_json(msg=f"cannot read the sources: {e}")
    if not entries:
        module.fail_json(msg=f"nothing to package in {', '.join(sources)} (every file is excluded)")

    try:
        data = build(entries)
    except OSError as e:
        module.fail_json(msg=f"cannot build the zip: {e}")
    try:
        with open(dest, "rb") as handle:
            current = handle.read()
    except OSError:
        current = None
    changed = current != data

    if changed and not module.check_mode:
        directory = os.path.dirname(os.path.abspath(dest))
        try:
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, suffix=".zip.tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
        except OSError as e:
            module.fail_json(msg=f"cannot write {dest}: {e}")

    return dict(
        changed=changed,
        dest=dest,
        code_sha256=base64.b64encode(hashlib.sha256(data).digest()).decode("ascii"),
        files=[entry[0] for entry in entries],
        size=len(data),
    )


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="list", elements="path"),
            distributions=dict(type="list", elements="str"),
            dest=dict(type="path"),
            exclude=dict(type="list", elements="str", default=["__pycache__", "*.pyc", "*.pyo", "tests", ".*"]),
            packages=dict(
                type="list",
                elements="dict",
                options=dict(
                    src=dict(type="list", elements="path", default=[]),
                    distributions=dict(type="list", elements="str", default=[]),
                    dest=dict(type="path", required=True),
                ),
            ),
        ),
        mutually_exclusive=[("packages", "src"), ("packages", "dest"), ("packages", "distributions")],
        required_one_of=[("packages", "dest")],
        required_by={"src": "dest", "distributions": "dest"},
        supports_check_mode=True,
    )
    if module.params["packages"] is not None:
        results = [package(module, p["src"], p["distributions"], p["dest"]) for p in module.params["packages"]]
        module.exit_json(changed=any(r["changed"] for r in results), packages=results)
    module.exit_json(
        **package(module, module.params["src"] or [], module.params["distributions"] or [], module.params["dest"])
    )


if __name__ == "__main__":
    main()
