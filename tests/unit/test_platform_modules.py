"""Logic of the modules added for the whole platform: comparisons and packaging."""

from __future__ import annotations

import io
import zipfile

import pytest
from ansible_collections.smartstream.pipeline.plugins.modules import glue_crawler as crawler
from ansible_collections.smartstream.pipeline.plugins.modules import lambda_package as package
from ansible_collections.smartstream.pipeline.plugins.modules import secret_json_keys as secret

PARAMS = {
    "role": "smartstream-dev-glue-crawler",
    "database_name": "smartstream_dev",
    "description": "",
    "s3_targets": [{"path": "s3://lake/trusted/", "exclusions": []}],
    "table_prefix": "",
    "update_behavior": "UPDATE_IN_DATABASE",
    "delete_behavior": "DEPRECATE_IN_DATABASE",
    "recrawl_behavior": "CRAWL_EVERYTHING",
    "schedule": "cron(0 2 * * ? *)",
    "configuration": {"Version": 1.0, "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"}},
}


def existing(**changes):
    current = {
        "Role": "arn:aws:iam::123456789012:role/smartstream-dev-glue-crawler",
        "DatabaseName": "smartstream_dev",
        "Targets": {"S3Targets": [{"Path": "s3://lake/trusted/", "Exclusions": []}]},
        "SchemaChangePolicy": {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DEPRECATE_IN_DATABASE"},
        "RecrawlPolicy": {"RecrawlBehavior": "CRAWL_EVERYTHING"},
        "Schedule": {"ScheduleExpression": "cron(0 2 * * ? *)", "State": "SCHEDULED"},
        "Configuration": '{"Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"}, "Version": 1.0}',
    }
    current.update(changes)
    return current


def test_crawler_as_glue_reports_it_is_unchanged():
    # Glue reports the role as an ARN and the configuration with its own key order.
    assert crawler.differences(crawler.current_settings(existing()), crawler.desired(PARAMS)) == []


def test_crawler_schedule_and_paths_are_compared():
    current = crawler.current_settings(existing(Schedule=None, Targets={"S3Targets": [{"Path": "s3://lake/x/"}]}))
    assert crawler.differences(current, crawler.desired(PARAMS)) == ["Targets", "Schedule"]


def test_crawler_role_of_another_name_differs():
    assert not crawler.role_matches("arn:aws:iam::1:role/other", "smartstream-dev-glue-crawler")


def test_secret_keys_that_change_are_named_without_values():
    current = {"username": "admin", "password": "p", "port": 5432}
    assert secret.changed_names(current, {"host": "db", "port": 5432}) == ["host"]
    assert secret.changed_names(current, {"port": "5432"}) == ["port"]  # a string is not the number


def test_package_is_reproducible_and_leaves_out_caches(tmp_path):
    src = tmp_path / "pkg"
    (src / "__pycache__").mkdir(parents=True)
    (src / "tests").mkdir()
    (src / "__init__.py").write_text("")
    (src / "handler.py").write_text("x = 1\n")
    (src / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\0")
    (src / "tests" / "test_handler.py").write_text("")
    patterns = ["__pycache__", "*.pyc", "tests", ".*"]

    entries = package.collect([str(src)], patterns)
    first = package.build(entries)
    (src / "handler.py").touch()  # a new mtime, the same bytes
    second = package.build(package.collect([str(src)], patterns))

    assert [name for name, _path in entries] == ["pkg/__init__.py", "pkg/handler.py"]
    assert first == second
    info = zipfile.ZipFile(io.BytesIO(first)).infolist()
    assert {i.date_time for i in info} == {package.FIXED_TIME}
    assert {i.external_attr >> 16 for i in info} == {0o100644}


def test_package_vendors_a_distribution_with_its_dist_info():
    package_dir, dist_info = package.distribution_dirs(["pg8000"])

    assert package_dir.endswith("/pg8000") and dist_info.endswith(".dist-info")
    names = [name for name, _path in package.collect([package_dir, dist_info], ["__pycache__", "*.pyc"])]
    assert "pg8000/__init__.py" in names
    assert any(name.startswith("pg8000-") and name.endswith(".dist-info/METADATA") for name in names)


def test_package_names_a_distribution_that_is_not_installed():
    with pytest.raises(ValueError, match="no-such-distribution is not installed"):
        package.distribution_dirs(["no-such-distribution"])
