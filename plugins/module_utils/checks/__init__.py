# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of a deployed platform, one module per layer, shared by the platform_check module and the tests.

Each check is a plain function of a :class:`~.common.Context` (boto3 clients,
the resources' names, the expected settings) returning ``(ok, detail)`` or
``(ok, detail, extra)``; :func:`.runner.run` runs the checks of the selected
layers and aspects and returns one result per check:
``{layer, name, aspect, ok, detail}`` (freshness results add ``seconds`` and
``threshold_seconds``).
"""
