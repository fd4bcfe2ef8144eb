"""Lambda entry point of the scheduled ML inference (EventBridge schedule).

Handler: smartstream_ml.handler.lambda_handler
"""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3

from .config import Settings
from .inference import score_new_data

logger = logging.getLogger("smartstream.ml")


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    settings = Settings.from_env()
    logger.setLevel(settings.log_level)
    result = score_new_data(boto3.client("s3"), settings)
    logger.info(json.dumps(result))
    return result
