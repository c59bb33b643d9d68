"""The runner process the crash test kills: ``python crash_driver.py PLAN.json``.

The plan names a workspace folder, a recording file, the traffic (Segment messages) and the
tick instants. Each tick ingests the messages of its period (received at the tick's instant;
ingest skips those already stored) and runs the runner once at that instant, with the recording
channel. The number of the last finished tick is written to ``progress`` (atomically), so a
restarted driver goes on with the tick it was killed in, at the same instant.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path


def main(plan_path: str) -> None:
    import journeylens as jl
    from journeylens.activate.dispatch import recording_channels
    from journeylens.activate.runner import run_once

    plan = json.loads(Path(plan_path).read_text())
    ticks = [datetime.fromisoformat(t) for t in plan["ticks"]]
    messages = plan["messages"]
    progress = Path(plan["progress"])
    done = int(progress.read_text()) if progress.exists() else -1
    clock = {"now": ticks[max(done, 0)]}
    ws = jl.Workspace.open(plan["workspace"], clock=lambda: clock["now"])
    channels = recording_channels(ws, plan["recording"])
    print("ready", flush=True)  # the test times its kill from here, not from the start-up
    for k in range(done + 1, len(ticks)):
        now = ticks[k]
        clock["now"] = now
        start = ticks[k - 1] if k else None
        batch = [
            m
            for m in messages
            if datetime.fromisoformat(m["timestamp"]) < now
            and (start is None or datetime.fromisoformat(m["timestamp"]) >= start)
        ]
        if batch:
            ws.ingest(batch, source_name="crash-test")
        run_once(ws, now, channels=channels)
        staged = progress.with_suffix(".tmp")
        staged.write_text(str(k))
        os.replace(staged, progress)
        print(f"tick {k}", flush=True)
    ws.close()


if __name__ == "__main__":
    main(sys.argv[1])
