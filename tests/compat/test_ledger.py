"""The usage ledger under kill -9: no acknowledged request's usage record is lost."""
import http.client
import json
import sqlite3
import threading
import time
import urllib.parse

from test_cli import start, stop

MASTER = "ledger-test-master"
CONFIG = f"""
server: {{port: 0, master_key: {MASTER}, reload_check_interval: off}}
providers:
  - {{name: mock, type: mock, options: {{latency_ms: 2, chunk_delay_ms: 1}}}}
models:
  - name: priced
    deployments: [{{provider: mock, model: m, price: {{input: 1, output: 2}}}}]
"""
SECRET_PROMPT = "ledger-prompt-must-not-be-stored"


def call(address, stream):
    url = urllib.parse.urlparse(address)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    body = {"model": "priced", "messages": [{"role": "user", "content": SECRET_PROMPT}], "stream": stream}
    connection.request("POST", "/v1/chat/completions", json.dumps(body),
                       {"authorization": f"Bearer {MASTER}", "content-type": "application/json"})
    response = connection.getresponse()
    data = response.read()  # the whole body: for a stream, through its last event
    connection.close()
    if response.status != 200:
        return None
    if stream and not data.rstrip().endswith(b"data: [DONE]"):
        return None
    return response.getheader("x-request-id")


def test_kill_dash_nine_under_load_loses_no_acknowledged_usage_record(tmp_path):
    config = tmp_path / "switchyard.yaml"
    config.write_text(CONFIG)
    process, address, _ = start(["serve", "--config", str(config)])
    acknowledged, lock, stop_flag = [], threading.Lock(), threading.Event()

    def load(index):
        while not stop_flag.is_set():
            try:
                request_id = call(address, stream=index % 2 == 1)
            except Exception:
                continue  # the gateway died under this request: it was never acknowledged
            if request_id:
                with lock:
                    acknowledged.append(request_id)

    threads = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(12)]
    for thread in threads:
        thread.start()
    # Kill once plenty of requests were acknowledged (however long that takes on a busy machine);
    # the deadline only bounds a failing run.
    give_up = time.monotonic() + 120
    while time.monotonic() < give_up and process.poll() is None:
        with lock:
            if len(acknowledged) >= 150:
                break
        time.sleep(0.05)
    process.kill()  # SIGKILL, mid-load: no shutdown hook runs
    process.wait(10)
    stop_flag.set()
    for thread in threads:
        thread.join(15)
    assert len(acknowledged) > 100, f"only {len(acknowledged)} requests completed before the kill"

    # The next start replays the journal into the database.
    process, address, _ = start(["serve", "--config", str(config)])
    try:
        url = urllib.parse.urlparse(address)
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        connection.request("GET", "/admin/usage", headers={"authorization": f"Bearer {MASTER}"})
        totals = json.loads(connection.getresponse().read())["totals"]
        assert totals["requests"] >= len(acknowledged)
        assert totals["cost_usd"] > 0
    finally:
        stop(process)
    database = sqlite3.connect(tmp_path / "switchyard.db")
    stored = {row[0] for row in database.execute("SELECT id FROM usage_records")}
    database.close()
    missing = set(acknowledged) - stored
    print(f"acknowledged {len(acknowledged)}, stored {len(stored)}")
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged requests have no usage record"
    # Records say who and how much, never what was said.
    for path in tmp_path.glob("switchyard.db*"):
        assert SECRET_PROMPT.encode() not in path.read_bytes(), path
        assert MASTER.encode() not in path.read_bytes(), path
