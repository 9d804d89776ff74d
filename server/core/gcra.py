"""The generic cell rate algorithm (GCRA): a token bucket kept as one timestamp.

A bucket of ``capacity`` requests that refills ``capacity`` per ``period`` is
stored as its theoretical arrival time (TAT): the moment the bucket would be
full again. A request of ``cost`` moves the TAT ``cost`` emission intervals
later; it is allowed when the new TAT is at most ``capacity`` intervals ahead
of now. Nothing is stored for a refused request, so a client that keeps
knocking does not push its own reset further away.

``RATE_LIMIT_SCRIPT`` is the same arithmetic in Lua, for Redis: one script,
run atomically, checks every bucket of a request (the key's and the
workspace's) and takes from all of them or from none.
"""

import math
from dataclasses import dataclass

MICROSECONDS = 1_000_000


@dataclass(frozen=True, slots=True)
class Bucket:
    """A budget: ``capacity`` requests at once, refilled at ``capacity`` per ``period_seconds``."""

    name: str
    capacity: int
    period_seconds: float = 60.0

    @property
    def interval_us(self) -> int:
        """Microseconds one request's token takes to come back."""
        return max(1, round(self.period_seconds * MICROSECONDS / self.capacity))


@dataclass(frozen=True, slots=True)
class Verdict:
    """One bucket's answer to one request, in microseconds."""

    allowed: bool
    capacity: int
    remaining: int
    reset_us: int
    retry_after_us: int


def decide(bucket: Bucket, *, tat_us: int | None, now_us: int, cost: int) -> tuple[Verdict, int]:
    """The verdict on a request and the TAT to store if every bucket allows it."""
    interval = bucket.interval_us
    start = max(tat_us if tat_us is not None else now_us, now_us)
    new_tat = start + cost * interval
    allow_at = new_tat - bucket.capacity * interval
    if now_us < allow_at:
        verdict = Verdict(False, bucket.capacity, 0, start - now_us, allow_at - now_us)
        return verdict, start
    remaining = (now_us - allow_at) // interval
    return Verdict(True, bucket.capacity, remaining, new_tat - now_us, 0), new_tat


def seconds_up(microseconds: int) -> int:
    """Whole seconds, rounded up: a client that waits that long is never too early."""
    return math.ceil(microseconds / MICROSECONDS)


#: KEYS: the buckets; ARGV: interval_us, capacity, cost for each bucket in turn.
#: Returns, per bucket: allowed (0/1), remaining, reset_us, retry_after_us.
RATE_LIMIT_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local answers = {}
local tats = {}
local all_allowed = true
for i = 1, #KEYS do
  local interval = tonumber(ARGV[3 * i - 2])
  local capacity = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  local start = tonumber(redis.call('GET', KEYS[i]) or now)
  if start < now then start = now end
  local new_tat = start + cost * interval
  local allow_at = new_tat - capacity * interval
  if now < allow_at then
    all_allowed = false
    answers[#answers + 1] = 0
    answers[#answers + 1] = 0
    answers[#answers + 1] = start - now
    answers[#answers + 1] = allow_at - now
  else
    answers[#answers + 1] = 1
    answers[#answers + 1] = math.floor((now - allow_at) / interval)
    answers[#answers + 1] = new_tat - now
    answers[#answers + 1] = 0
  end
  tats[i] = new_tat
end
if all_allowed then
  for i = 1, #KEYS do
    local ttl = math.ceil((tats[i] - now) / 1000) + 1000
    redis.call('SET', KEYS[i], string.format('%d', tats[i]), 'PX', ttl)
  end
end
return answers
"""
