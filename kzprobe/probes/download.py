"""Download probe: fetch a target's larger resource and record bytes over time, for throughput."""

from __future__ import annotations

import asyncio
import time

import httpx

from kzprobe.probes import limits
from kzprobe.probes.failures import failure_from_exception
from kzprobe.probes.http import REQUEST_HEADERS
from kzprobe.report.observations import DownloadObservation, DownloadSample, elapsed_ms

# Throughput is measured on the wire: no compression, so bytes counted are bytes carried.
_DOWNLOAD_HEADERS = REQUEST_HEADERS | {"Accept-Encoding": "identity", "Accept": "*/*"}


def thin_samples(samples: list[DownloadSample], keep: int) -> list[DownloadSample]:
    """Keep at most `keep` samples, evenly spaced, always with the first and last."""
    if len(samples) <= keep:
        return samples
    step = (len(samples) - 1) / (keep - 1)
    return [samples[round(i * step)] for i in range(keep)]


async def download(client: httpx.AsyncClient, url: str, timeout: float) -> DownloadObservation:
    start = time.monotonic()

    def now_ms() -> float:
        return elapsed_ms(start)

    observation = DownloadObservation(url=url, address=None, status=None, bytes=0, duration_ms=0.0,
                                      first_byte_ms=None, kilobytes_per_second=None, samples=[],
                                      longest_stall_ms=0.0, complete=False, failure=None)
    samples: list[DownloadSample] = []
    received = 0
    first_chunk_ms = last_chunk_ms = None
    longest_stall = 0.0
    try:
        request = client.build_request("GET", url, headers=_DOWNLOAD_HEADERS)
        response = await client.send(request, stream=True)
        observation["first_byte_ms"] = now_ms()
        observation["status"] = response.status_code
        observation["address"] = getattr(response.extensions.get("network_stream"), "address", None)
        try:
            async with asyncio.timeout(limits.DOWNLOAD_MAX_SECONDS):
                async for chunk in response.aiter_raw():
                    t = now_ms()
                    if last_chunk_ms is not None:
                        longest_stall = max(longest_stall, t - last_chunk_ms)
                    first_chunk_ms = first_chunk_ms if first_chunk_ms is not None else t
                    last_chunk_ms = t
                    received += len(chunk)
                    if not samples or t - samples[-1]["t_ms"] >= limits.DOWNLOAD_SAMPLE_INTERVAL_MS:
                        samples.append(DownloadSample(t_ms=t, bytes=received))
                    if received >= limits.DOWNLOAD_MAX_BYTES:
                        break
            observation["complete"] = True  # the whole resource, or the byte budget
        except TimeoutError:
            pass  # the time budget ended the measurement: enough to judge the rate
        finally:
            await response.aclose()
    except Exception as exc:
        observation["failure"] = failure_from_exception(exc)
    if last_chunk_ms is not None:
        if not samples or samples[-1]["bytes"] != received:
            samples.append(DownloadSample(t_ms=last_chunk_ms, bytes=received))
        if observation["failure"] is not None or not observation["complete"]:
            # Silence after the last chunk is a stall too (time-capped or timed out).
            longest_stall = max(longest_stall, now_ms() - last_chunk_ms)
    observation.update({
        "bytes": received,
        "duration_ms": now_ms(),
        "samples": thin_samples(samples, limits.DOWNLOAD_MAX_SAMPLES),
        "longest_stall_ms": round(longest_stall, 1),
    })
    if first_chunk_ms is not None and last_chunk_ms is not None and last_chunk_ms > first_chunk_ms:
        observation["kilobytes_per_second"] = round(received / 1000 / ((last_chunk_ms - first_chunk_ms) / 1000), 1)
    return observation
