"""Schemathesis against the service's OpenAPI schema: no generated request gets a 5xx answer."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from reesim.api.app import create_app

_HOME = Path(tempfile.mkdtemp(prefix="reesim-schemathesis-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
# jobs are recorded but not run: generated run requests must be answered, not simulated
# Host checks are tested in test_api; schemathesis speaks as "testserver"
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(_HOME, start_jobs=False, allowed_hosts=["*"])
)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case):
    response = case.call()
    assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text[:500])
