#!/usr/bin/env python3
"""Hostile RPC clients against a running node, and the node's memory meanwhile.

    rpc-limits-probe.py PID URL slow N HOSTS SECONDS   N clients that send headers and trickle a
                                                       body (1 byte/s), spread over HOSTS loopback
                                                       addresses (127.0.0.1 ...), for SECONDS
    rpc-limits-probe.py PID URL big N BYTES ROUNDS     N clients at once POST a kessai_submitTx body
                                                       of BYTES at full speed, ROUNDS times

Prints one line: peak RSS of PID during the phase (VmHWM after resetting it), the answers' status
codes, and for `slow` how fast a well-behaved client on 127.0.0.250 got `kessai_status` answered.
Used by scripts/bench-rpc-limits.sh; Linux only (/proc).
"""

import asyncio
import collections
import json
import sys
import time

STATUS = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "kessai_status", "params": []}).encode()


def reset_peak(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def memory_mib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def head(length):
    return (
        "POST / HTTP/1.1\r\nhost: node\r\ncontent-type: application/json\r\n"
        f"content-length: {length}\r\nconnection: close\r\n\r\n"
    ).encode()


async def connect(host, port, source):
    return await asyncio.open_connection(host, port, local_addr=(source, 0))


async def status_of(reader):
    try:
        line = await reader.readline()
        return int(line.split()[1]) if line.startswith(b"HTTP/1.1 ") else "closed"
    except (ConnectionError, OSError):
        return "reset"


async def trickler(host, port, source, stop, outcomes, cut_after):
    start = time.monotonic()
    try:
        reader, writer = await connect(host, port, source)
    except OSError as e:
        outcomes[f"connect failed: {e.strerror}"] += 1
        return
    writer.write(head(1000) + b"{")
    answer = asyncio.ensure_future(status_of(reader))
    while not stop.is_set() and not answer.done():
        try:
            writer.write(b" ")
            await writer.drain()
        except (ConnectionError, OSError):
            break
        await asyncio.wait([answer], timeout=1.0)
    if answer.done():
        outcomes[answer.result()] += 1
        cut_after.append(time.monotonic() - start)
    else:
        answer.cancel()
        outcomes["still open"] += 1
    writer.close()


async def well_behaved(host, port, stop, latencies, failures):
    while not stop.is_set():
        start = time.monotonic()
        try:
            reader, writer = await asyncio.wait_for(connect(host, port, "127.0.0.250"), 5)
            writer.write(head(len(STATUS)) + STATUS)
            status = await asyncio.wait_for(status_of(reader), 5)
            writer.close()
            if status == 200:
                latencies.append(time.monotonic() - start)
            else:
                failures[status] += 1
        except (asyncio.TimeoutError, OSError):
            failures["timeout"] += 1
        await asyncio.sleep(0.5)


async def slow(pid, host, port, n, hosts, seconds):
    stop = asyncio.Event()
    outcomes, failures = collections.Counter(), collections.Counter()
    cut_after, latencies = [], []
    rss = []
    reset_peak(pid)
    tasks = [
        asyncio.ensure_future(
            trickler(host, port, f"127.0.0.{1 + i % hosts}", stop, outcomes, cut_after)
        )
        for i in range(n)
    ]
    probe = asyncio.ensure_future(well_behaved(host, port, stop, latencies, failures))
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rss.append(memory_mib(pid, "VmRSS"))
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*tasks, probe)
    peak = memory_mib(pid, "VmHWM")
    lat = sorted(latencies)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")
    print(
        f"slow clients={n} hosts={hosts} seconds={seconds}: peak RSS {peak:.0f} MiB "
        f"(sampled max {max(rss):.0f}); outcomes {dict(outcomes)}; "
        f"cut after max {max(cut_after, default=0):.1f} s; "
        f"status from another host: {len(lat)} answered, p50 {p(0.5):.0f} ms, "
        f"max {p(1.0):.0f} ms, failures {dict(failures)}"
    )


async def big_one(host, port, body, outcomes):
    try:
        reader, writer = await connect(host, port, "127.0.0.1")
        writer.write(head(len(body)))
        writer.write(body)
        answer = asyncio.ensure_future(status_of(reader))
        try:
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        outcomes[await asyncio.wait_for(answer, 60)] += 1
        writer.close()
    except (asyncio.TimeoutError, OSError) as e:
        outcomes[type(e).__name__] += 1


async def big(pid, host, port, n, size, rounds):
    # A kessai_submitTx whose transaction hex makes the body `size` bytes.
    envelope = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "kessai_submitTx", "params": [""]})
    hex_len = max(0, (size - len(envelope)) // 2 * 2)
    body = envelope.replace('[""]', '["' + "0" * hex_len + '"]').encode()
    outcomes = collections.Counter()
    reset_peak(pid)
    start = time.monotonic()
    for _ in range(rounds):
        await asyncio.gather(*(big_one(host, port, body, outcomes) for _ in range(n)))
    elapsed = time.monotonic() - start
    peak = memory_mib(pid, "VmHWM")
    print(
        f"big clients={n} body={len(body)} bytes rounds={rounds}: peak RSS {peak:.0f} MiB; "
        f"outcomes {dict(outcomes)}; {elapsed:.1f} s"
    )


def main():
    pid, url, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    port = int(port)
    args = [int(a) for a in sys.argv[4:]]
    if mode == "slow":
        asyncio.run(slow(pid, host, port, *args))
    elif mode == "big":
        asyncio.run(big(pid, host, port, *args))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
