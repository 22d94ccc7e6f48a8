"""The background log writer: every line written, in order, by every process."""

import io
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from mo_loans.logging_json import BackgroundStreamHandler, JsonFormatter

REPO = Path(__file__).resolve().parents[2]


def _logger(name: str, handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


def test_lines_of_many_threads_are_all_written_each_in_its_threads_order():
    stream = io.StringIO()
    handler = BackgroundStreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = _logger("tests.log_writer.threads", handler)
    try:

        def write(thread: int) -> None:
            for number in range(300):
                logger.info("line %s", number, extra={"writer": thread})

        threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        handler.flush()
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert len(lines) == 4 * 300
    for thread in range(4):
        mine = [line["message"] for line in lines if line["writer"] == thread]
        assert mine == [f"line {number}" for number in range(300)]


def test_a_record_keeps_the_message_it_had_when_it_was_logged():
    stream = io.StringIO()
    handler = BackgroundStreamHandler(stream)
    logger = _logger("tests.log_writer.args", handler)
    try:
        values = ["before"]
        logger.info("value %s", values)
        values[0] = "after"
        handler.flush()
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert stream.getvalue() == "value ['before']\n"


def test_a_forked_process_writes_its_own_lines(tmp_path):
    path = tmp_path / "log.txt"
    with path.open("a", buffering=1) as stream:
        handler = BackgroundStreamHandler(stream)
        logger = _logger("tests.log_writer.fork", handler)
        try:
            logger.info("parent before the fork")
            handler.flush()
            child = os.fork()
            if child == 0:  # pragma: no cover - runs in the child
                try:
                    logger.info("child %s", os.getpid())
                    handler.close()  # what the child's exit does (atexit)
                finally:
                    os._exit(0)
            _, status = os.waitpid(child, 0)
            logger.info("parent after the fork")
            handler.flush()
        finally:
            logger.removeHandler(handler)
            handler.close()
    assert status == 0
    lines = path.read_text().splitlines()
    assert lines[0] == "parent before the fork"
    assert sorted(lines[1:]) == sorted([f"child {child}", "parent after the fork"])


def test_lines_queued_when_the_process_exits_are_written():
    script = (
        "import logging.config\n"
        "from mo_loans.logging_json import logging_config\n"
        "logging.config.dictConfig(logging_config(level='INFO', log_format='json'))\n"
        "for n in range(500):\n"
        "    logging.getLogger('mo_loans.test').info('line %s', n)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    messages = [json.loads(line)["message"] for line in result.stdout.splitlines()]
    assert messages == [f"line {n}" for n in range(500)]
