"""Quotas and rate limits: per department, per API key and per person, shared by every process.

Requests per minute are counted in fixed one-minute windows (``RateWindow``, one upsert per subject);
tokens per day and per month are read from ``TokenUsage``, which ``tokens_add`` fills exactly once per
run, in the transaction that meters it. ``quota_check`` runs before every run, whatever the entry point
(chat, REST, OpenAI-compatible, batch, playground), and raises ``QuotaExceeded`` with the seconds after
which a retry can succeed.

A subject is ``d:<department id>`` (everything the department's people and keys do), ``k:<key id>``
or ``u:<user id>`` (a person, limited by the per-member quota of the department they act for).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import ApiKey, DepartmentQuota


class QuotaExceeded(Exception):
    """A limit is reached; ``retry_after`` is the number of seconds until it resets.

    ``tokens`` says it is a token quota (a day's or a month's), not the per-minute request rate:
    OpenAI's clients tell the two apart (``insufficient_quota`` is not worth retrying soon).
    """

    def __init__(self, message: str, retry_after: int, *, tokens: bool = False):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))
        self.tokens = tokens


@dataclass(frozen=True)
class _Limits:
    subject: str
    who: str  # how the message names the subject
    per_minute: int | None
    per_day: int | None
    per_month: int | None


def _limits(*, department_id: int | None, api_key: ApiKey | None, user_id: int | None) -> list[_Limits]:
    found: list[_Limits] = []
    quota = DepartmentQuota.objects.filter(department_id=department_id).first() if department_id else None
    if quota is not None:
        found.append(
            _Limits(
                f"d:{department_id}",
                _("本部门"),
                quota.requests_per_minute,
                quota.tokens_per_day,
                quota.tokens_per_month,
            )
        )
        if user_id is not None:
            found.append(
                _Limits(
                    f"u:{user_id}",
                    _("您个人"),
                    quota.user_requests_per_minute,
                    quota.user_tokens_per_day,
                    quota.user_tokens_per_month,
                )
            )
    if api_key is not None:
        found.append(
            _Limits(
                f"k:{api_key.pk}",
                _("该 API 密钥"),
                api_key.requests_per_minute,
                api_key.tokens_per_day,
                api_key.tokens_per_month,
            )
        )
    return [limit for limit in found if limit.per_minute or limit.per_day or limit.per_month]


def _today() -> date:
    return timezone.localdate(timezone.now(), timezone.get_default_timezone())


def _seconds_until(moment: datetime) -> int:
    return int((moment - timezone.now()).total_seconds()) + 1


def _next_midnight(day: date) -> datetime:
    tz = timezone.get_default_timezone()
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)


def _next_month(day: date) -> datetime:
    tz = timezone.get_default_timezone()
    last = calendar.monthrange(day.year, day.month)[1]
    return datetime.combine(day.replace(day=last) + timedelta(days=1), datetime.min.time(), tzinfo=tz)


def quota_check(*, department_id: int | None, api_key: ApiKey | None = None, user_id: int | None = None) -> None:
    """Count one request against every applicable limit; raise QuotaExceeded when one is reached.

    Token limits are checked first (they have no side effect); the request is then counted in each
    subject's current minute, and refused when that takes a subject past its per-minute limit.
    """
    limits = _limits(department_id=department_id, api_key=api_key, user_id=user_id)
    if not limits:
        return
    today = _today()
    with_tokens = [limit for limit in limits if limit.per_day or limit.per_month]
    if with_tokens:
        used = tokens_used(subjects=[limit.subject for limit in with_tokens], day=today)
        for limit in with_tokens:
            day_used, month_used = used.get(limit.subject, (0, 0))
            if limit.per_day and day_used >= limit.per_day:
                raise QuotaExceeded(
                    _("%(who)s今日的 token 用量已达上限（%(limit)s），明日零时恢复。")
                    % {"who": limit.who, "limit": limit.per_day},
                    _seconds_until(_next_midnight(today)),
                    tokens=True,
                )
            if limit.per_month and month_used >= limit.per_month:
                raise QuotaExceeded(
                    _("%(who)s本月的 token 用量已达上限（%(limit)s），下月 1 日恢复。")
                    % {"who": limit.who, "limit": limit.per_month},
                    _seconds_until(_next_month(today)),
                    tokens=True,
                )
    per_minute = [limit for limit in limits if limit.per_minute]
    if per_minute:
        now = timezone.now()
        minute = now.replace(second=0, microsecond=0)
        counts = _count_request(subjects=[limit.subject for limit in per_minute], minute=minute)
        for limit in per_minute:
            if counts[limit.subject] > limit.per_minute:
                seconds = _seconds_until(minute + timedelta(minutes=1))
                raise QuotaExceeded(
                    _("%(who)s的请求过于频繁（每分钟最多 %(limit)s 次），请 %(seconds)s 秒后重试。")
                    % {"who": limit.who, "limit": limit.per_minute, "seconds": seconds},
                    seconds,
                )


def _count_request(*, subjects: list[str], minute: datetime) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tenants_ratewindow (subject, minute, count)
            SELECT s, %s, 1 FROM unnest(%s::varchar[]) AS s
            ON CONFLICT ON CONSTRAINT rate_window_unique DO UPDATE SET count = tenants_ratewindow.count + 1
            RETURNING subject, count
            """,
            [minute, subjects],
        )
        return dict(cursor.fetchall())


def tokens_used(*, subjects: list[str], day: date) -> dict[str, tuple[int, int]]:
    """Tokens each subject used on ``day`` and in its month so far: {subject: (day, month)}."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT subject, COALESCE(SUM(tokens) FILTER (WHERE day = %s), 0), SUM(tokens)
            FROM tenants_tokenusage WHERE subject = ANY(%s) AND day >= %s AND day <= %s GROUP BY subject
            """,
            [day, subjects, day.replace(day=1), day],
        )
        return {subject: (int(d), int(m)) for subject, d, m in cursor.fetchall()}


def tokens_add(
    *, day: date, tokens: int, department_id: int | None, api_key_id: int | None, user_id: int | None
) -> None:
    """Add a run's tokens to its subjects' day (call inside the transaction that marks the run metered)."""
    if not tokens:
        return
    subjects = [f"d:{department_id}"] if department_id else []
    if api_key_id:
        subjects.append(f"k:{api_key_id}")
    if user_id:
        subjects.append(f"u:{user_id}")
    if not subjects:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tenants_tokenusage (subject, day, tokens)
            SELECT s, %s, %s FROM unnest(%s::varchar[]) AS s
            ON CONFLICT ON CONSTRAINT token_usage_unique DO UPDATE SET tokens = tenants_tokenusage.tokens + EXCLUDED.tokens
            """,
            [day, tokens, subjects],
        )


def rate_windows_prune() -> int:
    """Drop request counts of minutes that are over (a beat task calls this)."""
    from .models import RateWindow

    cutoff = timezone.now() - timedelta(minutes=5)
    return RateWindow.objects.filter(minute__lt=cutoff).delete()[0]
