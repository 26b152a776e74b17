"""Conductor Python SDK quick-start flow against a running Baton server.

Run:
    pip install -r server/tests/python/requirements.txt
    BATON_URL=http://127.0.0.1:8080 pytest -q server/tests/python

Mirrors the SDK README / examples/helloworld: @worker_task workers, a
ConductorWorkflow registered with overwrite=True, a TaskHandler polling in
worker processes, and the workflow client to start and inspect the run.
"""
import os
import time

from conductor.client.automator.task_handler import TaskHandler
from conductor.client.configuration.configuration import Configuration
from conductor.client.orkes_clients import OrkesClients
from conductor.client.worker.worker_task import worker_task
from conductor.client.workflow.conductor_workflow import ConductorWorkflow

BATON_URL = os.environ.get("BATON_URL", "http://127.0.0.1:8080").rstrip("/")
WORKFLOW_NAME = "baton_py_quickstart"


# Workers must live at module level: TaskHandler runs each one in its own
# process (multiprocessing "spawn"), which re-imports this module.
# Parameters need type hints; a single unannotated parameter receives the Task.
@worker_task(task_definition_name="baton_py_qs_greet", poll_interval_millis=50)
def baton_py_qs_greet(name: str) -> str:
    return f"Hello, {name}"


@worker_task(task_definition_name="baton_py_qs_shout", poll_interval_millis=50)
def baton_py_qs_shout(text: str) -> dict:
    return {"shouted": text.upper() + "!", "length": len(text)}


def test_quickstart_workflow_completes():
    config = Configuration(server_api_url=f"{BATON_URL}/api", debug=False)
    clients = OrkesClients(configuration=config)
    executor = clients.get_workflow_executor()
    workflow_client = clients.get_workflow_client()

    workflow = ConductorWorkflow(executor=executor, name=WORKFLOW_NAME, version=1)
    workflow >> baton_py_qs_greet(task_ref_name="greet_ref", name=workflow.input("name"))
    workflow >> baton_py_qs_shout(task_ref_name="shout_ref", text="${greet_ref.output.result}")
    workflow.output_parameters({
        "greeting": "${greet_ref.output.result}",
        "shouted": "${shout_ref.output.shouted}",
        "length": "${shout_ref.output.length}",
    })
    workflow.register(overwrite=True)

    task_handler = TaskHandler(workers=[], configuration=config, scan_for_annotated_workers=True)
    task_handler.start_processes()
    try:
        workflow_id = workflow_client.start_workflow_by_name(
            WORKFLOW_NAME, {"name": "Baton"}, version=1, correlationId="py-quickstart")
        assert workflow_id

        deadline = time.monotonic() + 30
        while True:
            run = workflow_client.get_workflow(workflow_id, include_tasks=True)
            # The SDK returns None (and only logs) when the Workflow JSON fails
            # to deserialize, e.g. an unknown status enum or a non-integer timestamp.
            assert run is not None, "SDK could not deserialize GET /api/workflow/{id}"
            if run.status != "RUNNING" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        task_handler.stop_processes()

    task_states = [(t.reference_task_name, t.status) for t in run.tasks or []]
    assert run.status == "COMPLETED", \
        f"workflow {workflow_id} is {run.status} ({run.reason_for_incompletion}); tasks: {task_states}"
    assert run.workflow_id == workflow_id
    assert run.correlation_id == "py-quickstart"
    assert run.output == {"greeting": "Hello, Baton", "shouted": "HELLO, BATON!", "length": 12}
    assert [t.reference_task_name for t in run.tasks] == ["greet_ref", "shout_ref"]
    assert all(t.status == "COMPLETED" for t in run.tasks)
    assert run.tasks[0].output_data == {"result": "Hello, Baton"}
    assert run.tasks[1].input_data == {"text": "Hello, Baton"}
