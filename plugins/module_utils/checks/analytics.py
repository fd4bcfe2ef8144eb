# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Analytics: the Athena workgroup and its saved queries."""

from __future__ import annotations

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import (
    check,
    compare,
)


@check("workgroup enforces an encrypted results location and a bytes-scanned cutoff")
def workgroup(ctx):
    athena = ctx.client("athena")
    wg = athena.get_work_group(WorkGroup=ctx.name("workgroup"))["WorkGroup"]["Configuration"]
    result = wg.get("ResultConfiguration", {})
    got = {
        "enforced": wg.get("EnforceWorkGroupConfiguration"),
        "output": result.get("OutputLocation"),
        "encryption": result.get("EncryptionConfiguration", {}).get("EncryptionOption"),
        "cutoff": wg.get("BytesScannedCutoffPerQuery"),
        "metrics": wg.get("PublishCloudWatchMetricsEnabled"),
    }
    want = {
        "enforced": True,
        "output": f"s3://{ctx.name('athena_results_bucket')}/{ctx.want('results_prefix', 'results/')}",
        "encryption": ctx.want("results_encryption", "SSE_S3"),
        "cutoff": ctx.want("bytes_scanned_cutoff"),
        "metrics": True,
    }
    return compare(want, got)


@check("saved queries for the common questions, on the catalog database")
def saved_queries(ctx):
    athena = ctx.client("athena")
    ids = athena.list_named_queries(WorkGroup=ctx.name("workgroup"))["NamedQueryIds"]
    queries = [athena.get_named_query(NamedQueryId=i)["NamedQuery"] for i in ids]
    got = {
        "names": sorted(q["Name"] for q in queries),
        "elsewhere": sorted(q["Name"] for q in queries if q["Database"] != ctx.name("glue_database")),
        "not_a_select": sorted(q["Name"] for q in queries if "SELECT" not in q["QueryString"].upper()),
    }
    return compare({"names": sorted(ctx.want("saved_queries")), "elsewhere": [], "not_a_select": []}, got)


CHECKS = (workgroup, saved_queries)
