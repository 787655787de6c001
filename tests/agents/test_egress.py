"""The egress guard: deny by default, judged on the address the connection really goes to, at call time."""

from __future__ import annotations

import logging

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.exceptions import ValidationError

from agents.egress import (
    EgressDenied,
    EgressFailed,
    EgressTimeout,
    EgressTooLarge,
    async_http_client,
    check_url,
    host_matches,
    http_client,
    http_fetch,
    policy_read_once,
)
from agents.llm.gateway import endpoint_test_connection
from agents.models import AllowedHost
from tests.agents.factories import make_endpoint
from tests.fakes.web_server import WebServer


@pytest.fixture(scope="module")
def _servers():
    # Two loopback addresses: "listed" and "not listed" can then be told apart by address alone.
    first, second = WebServer("127.0.0.1").start(), WebServer("127.0.0.2").start()
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture
def web(_servers):
    _servers[0].requests.clear()
    return _servers[0]


@pytest.fixture
def web2(_servers):
    _servers[1].requests.clear()
    return _servers[1]


def allow(*patterns):
    for pattern in patterns:
        AllowedHost.objects.create(pattern=pattern)


def fetch(url, **extra):
    return http_fetch(
        method=extra.pop("method", "GET"),
        url=url,
        timeout=extra.pop("timeout", 5),
        max_bytes=extra.pop("max_bytes", 100_000),
        **extra,
    )


@pytest.mark.parametrize(
    ("host", "pattern", "allowed"),
    [
        ("api.gov.example", "api.gov.example", True),
        ("API.gov.example.", "api.gov.example", True),
        ("x.api.gov.example", "api.gov.example", False),
        ("a.gov.example", "*.gov.example", True),
        ("a.b.gov.example", "*.gov.example", True),
        ("gov.example", "*.gov.example", False),
        ("evilgov.example", "*.gov.example", False),
    ],
)
def test_host_patterns(host, pattern, allowed):
    assert host_matches(host, pattern) is allowed


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("API.Gov.Example.", "api.gov.example"),
        ("*.gov.example", "*.gov.example"),
        ("10.20.0.8", "10.20.0.8"),
        ("10.20.0.0/16", "10.20.0.0/16"),
        ("fd12:3456::/48", "fd12:3456::/48"),
        ("[::1]", "::1"),
        ("政务.example", "xn--zfr164b.example"),
    ],
)
def test_allow_list_entries_are_stored_in_their_normal_form(db, typed, stored):
    entry = AllowedHost(pattern=typed)
    entry.full_clean()
    assert entry.pattern == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("https://api.gov.example/x", "不要包含 http://"),
        ("api.gov.example:8443", "不要包含端口或路径"),
        ("10.20.0.1/16", "是不是想填 10.20.0.0/16"),
        ("0.0.0.0/0", "太大"),
        ("2130706433", "标准形式 127.0.0.1"),
        ("0x7f.1", "标准形式 127.0.0.1"),
        ("::ffff:127.0.0.1", "IPv4 地址 127.0.0.1"),
        ("api.*.example", "通配符只能写在最前面"),
        ("*.10.20", "地址段"),
        ("bad_host-.example", "不是有效的主机名"),
        ("", "请填写"),
    ],
)
def test_allow_list_entries_are_validated_with_clear_messages(db, typed, message):
    with pytest.raises(ValidationError) as caught:
        AllowedHost(pattern=typed).full_clean()
    assert message in str(caught.value.message_dict.get("pattern"))


def test_nothing_is_reachable_until_listed(db, web):
    with pytest.raises(EgressDenied, match="不在出网白名单中"):
        check_url("https://data.gov.example/x")
    with pytest.raises(EgressDenied, match=r"受保护的地址 127.0.0.1"):
        fetch(web.url("/json"))
    with pytest.raises(EgressDenied, match="http 或 https"):
        check_url("file:///etc/passwd", purpose="model")
    with pytest.raises(EgressDenied, match="http 或 https"):
        check_url("ftp://data.gov.example/x")
    assert web.requests == []
    allow("*.gov.example")
    # Not resolvable from here: judged by name; the connection is checked again when made.
    assert check_url("https://data.gov.example/x") == "data.gov.example"
    with pytest.raises(EgressDenied, match="不在出网白名单中"):
        check_url("https://gov.example/x")


@pytest.mark.parametrize(
    "spelling",
    ["2130706433", "0x7f.1", "0x7f000001", "127.1", "017700000001", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]"],
)
def test_numeric_spellings_are_judged_as_the_address_they_mean(db, web, spelling):
    url = f"http://{spelling}:{web.port}/json"
    with pytest.raises(EgressDenied, match=r"受保护的地址 127.0.0.1"):
        check_url(url)
    with pytest.raises(EgressDenied, match=r"受保护的地址 127.0.0.1"):
        fetch(url)
    assert web.requests == []
    allow("127.0.0.1")
    assert check_url(url) == "127.0.0.1"
    assert fetch(url).address == "127.0.0.1"
    assert web.requests[0]["reached"] == "127.0.0.1"


def test_malformed_and_userinfo_hosts_are_judged_by_their_real_host(db, web):
    allow("api.gov.example")
    with pytest.raises(EgressDenied, match="地址格式无效"):
        check_url(f"http://0177.0.0.1:{web.port}/")
    with pytest.raises(EgressDenied, match=r"受保护的地址 127.0.0.1"):
        fetch(f"http://api.gov.example@127.0.0.1:{web.port}/json")
    with pytest.raises(EgressDenied):
        check_url(f"http://api.gov.example:80@127.0.0.1:{web.port}/")
    assert web.requests == []


def test_a_listed_name_is_not_enough_for_loopback_but_a_listed_range_is(db, web):
    allow("localhost")
    with pytest.raises(EgressDenied, match=r"localhost 指向受保护的地址 127.0.0.1"):
        check_url(web.url("/json", host="localhost"))
    with pytest.raises(EgressDenied, match="受保护"):
        fetch(web.url("/json", host="localhost"))
    assert web.requests == []
    allow("127.0.0.1/32")
    answer = fetch(web.url("/json", host="localhost"))
    assert answer.status == 200
    # The connection went to the address that was checked; the name stays in the Host header.
    assert answer.address == "127.0.0.1"
    assert web.requests[-1]["reached"] == "127.0.0.1"
    assert web.requests[-1]["headers"]["host"] == f"localhost:{web.port}"


def test_a_range_opens_only_what_it_contains(db, web, web2):
    allow("127.0.0.2/32")
    assert fetch(web2.url("/json")).address == "127.0.0.2"
    assert web2.requests[-1]["reached"] == "127.0.0.2"
    with pytest.raises(EgressDenied):
        fetch(web.url("/json"))
    with pytest.raises(EgressDenied, match="受保护"):
        fetch(web.url("/json", host="localhost"))
    assert web.requests == []


def test_private_addresses_need_a_listed_range(db):
    with pytest.raises(EgressDenied, match="不在出网白名单中"):
        check_url("http://10.20.0.8:8000/v1")
    allow("10.20.0.0/16", "fd12:3456::/48")
    assert check_url("http://10.20.0.8:8000/v1") == "10.20.0.8"
    assert check_url("http://[fd12:3456::9]/v1") == "fd12:3456::9"
    assert check_url("http://[::ffff:10.20.3.4]/v1") == "10.20.3.4"
    with pytest.raises(EgressDenied):
        check_url("http://10.21.0.8:8000/v1")
    with pytest.raises(EgressDenied):
        check_url("http://192.168.1.1/")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",
        "http://[fe80::1]/",
        "http://0.0.0.0:8000/",
        "http://[::]:8000/",
        "http://224.0.0.1/",
    ],
)
def test_metadata_link_local_and_other_special_addresses_stay_closed_under_broad_ranges(db, url):
    allow("*.gov.example", "100.64.0.0/10", "fd00::/8")
    with pytest.raises(EgressDenied, match="受保护的地址"):
        check_url(url)


def test_a_metadata_address_opens_only_when_listed_itself(db):
    allow("169.254.0.0/16")
    assert check_url("http://169.254.10.1/") == "169.254.10.1"
    with pytest.raises(EgressDenied, match=r"受保护的地址 169.254.169.254"):
        check_url("http://169.254.169.254/")
    allow("169.254.169.254")
    assert check_url("http://169.254.169.254/") == "169.254.169.254"


def test_platform_wide_endpoints_are_allowed_but_a_department_must_be_listed(db, tenant_a, tenant_b):
    platform = make_endpoint(None, base_url="http://10.0.0.8:8000/v1")
    own = make_endpoint(tenant_a.department, base_url="http://10.0.0.9:8000/v1")
    same_host = make_endpoint(tenant_b.department, base_url="http://10.0.0.8:9000/v1")
    assert check_url(platform.base_url, purpose="model", endpoint=platform) == "10.0.0.8"
    assert check_url(platform.base_url, purpose="model") == "10.0.0.8"
    with pytest.raises(EgressDenied, match="不在出网白名单中"):
        check_url(platform.base_url, purpose="tool")
    with pytest.raises(EgressDenied, match="不在出网白名单中"):
        check_url(own.base_url, purpose="model", endpoint=own)
    with pytest.raises(EgressDenied, match="不在出网白名单中"):
        check_url(same_host.base_url, purpose="model", endpoint=same_host)
    result = endpoint_test_connection(endpoint=own)
    assert not result.ok and "不在出网白名单中" in result.message
    allow("10.0.0.0/24")
    assert check_url(own.base_url, purpose="model", endpoint=own) == "10.0.0.9"


def test_a_department_endpoint_is_checked_when_the_client_connects(db, tenant_a, tenant_b, fake_openai, web):
    own = make_endpoint(tenant_a.department, base_url=fake_openai.base_url)
    with http_client(purpose="model", endpoint=own, timeout=5) as client:
        assert client.get(f"{fake_openai.base_url}/models").status_code == 200
        AllowedHost.objects.filter(pattern="127.0.0.1").delete()
        # The pooled connection is still open, yet the next request is judged by the list as it is now.
        with pytest.raises(EgressDenied, match="受保护"):
            client.get(f"{fake_openai.base_url}/models")
    platform = make_endpoint(None, base_url=fake_openai.base_url)
    with http_client(purpose="model", endpoint=platform, timeout=5) as client, pytest.raises(EgressDenied):
        client.get(f"{fake_openai.base_url}/models")  # registered platform-wide, but loopback needs its address listed


def test_the_check_runs_at_call_time_not_when_the_client_is_made(db, web):
    allow("127.0.0.1")
    client = http_client(purpose="tool", timeout=5)
    AllowedHost.objects.all().delete()
    with client, pytest.raises(EgressDenied):
        client.get(web.url("/json"))
    assert web.requests == []


def test_the_asynchronous_client_is_guarded_the_same_way(db, web, web2):
    allow("127.0.0.1")

    async def call(url):
        async with async_http_client(purpose="tool", timeout=5) as client:
            return (await client.get(url)).json()["reached"]

    assert async_to_sync(call)(web.url("/json", host="localhost")) == "127.0.0.1"
    with pytest.raises(EgressDenied, match=r"受保护的地址 127.0.0.2"):
        async_to_sync(call)(web2.url("/json"))
    assert web2.requests == []


def test_one_run_reads_the_allow_list_once_and_the_next_run_reads_it_again(db, web, django_assert_num_queries):
    allow("127.0.0.1")
    with policy_read_once():
        with django_assert_num_queries(1):
            assert check_url(web.url("/json")) == check_url(web.url("/json")) == "127.0.0.1"
        AllowedHost.objects.all().delete()  # an admin changes the list while a run goes on
        assert check_url(web.url("/json")) == "127.0.0.1"
    with pytest.raises(EgressDenied):  # the next run (and any check outside one) reads the list as it is
        check_url(web.url("/json"))

    async def run():
        # What a detached run does: its asynchronous model calls inside one policy_read_once.
        with policy_read_once():
            async with async_http_client(purpose="tool", timeout=5) as client:
                first = (await client.get(web.url("/json"))).status_code
                await sync_to_async(AllowedHost.objects.all().delete)()
                return first, (await client.get(web.url("/json"))).status_code

    allow("127.0.0.1")
    assert async_to_sync(run)() == (200, 200)
    with pytest.raises(EgressDenied):
        fetch(web.url("/json"))


def test_proxies_from_the_environment_do_not_bypass_the_guard(db, web, web2, monkeypatch):
    allow("127.0.0.1")
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, web2.url("/"))
    with http_client(purpose="tool", timeout=5) as client:
        assert client.get(web.url("/json")).status_code == 200
    assert fetch(web.url("/json")).status == 200
    assert web2.requests == [] and len(web.requests) == 2


def test_redirects_are_checked_again_and_keep_secrets_at_home(db, web, web2):
    allow("127.0.0.1")
    to_other = web.url(f"/redirect?to={web2.url('/json')}")
    with pytest.raises(EgressDenied, match=r"受保护的地址 127.0.0.2"):
        fetch(to_other, headers={"X-Api-Key": "tool-secret"})
    assert web2.requests == []

    allow("127.0.0.2")
    answer = fetch(to_other, headers={"X-Api-Key": "tool-secret"})
    assert answer.status == 200 and answer.address == "127.0.0.2" and answer.url == web2.url("/json")
    assert "x-api-key" not in web2.requests[-1]["headers"]

    same_origin = web.url("/redirect?to=/json/again&code=307")
    fetch(same_origin, method="POST", json_body={"a": 1}, headers={"X-Api-Key": "tool-secret"})
    assert web.requests[-1]["path"] == "/json/again" and web.requests[-1]["method"] == "POST"
    assert web.requests[-1]["headers"]["x-api-key"] == "tool-secret" and web.requests[-1]["body"] == '{"a":1}'

    with pytest.raises(EgressDenied, match="http 或 https"):
        fetch(web.url("/redirect?to=file:///etc/passwd"))
    loop = web.url("/redirect?to=/redirect%3Fto%3D/redirect%253Fto%253D/redirect%25253Fto%25253D/json")
    with pytest.raises(EgressFailed, match="重定向超过 3 次"):
        fetch(loop)
    # Clients handed to the model gateway do not follow redirects at all.
    with http_client(purpose="tool", timeout=5) as client:
        assert client.get(to_other).status_code == 302


@pytest.mark.parametrize("chunked", ["", "1"])
def test_answers_larger_than_the_cap_stop_with_a_clear_error(db, web, chunked):
    allow("127.0.0.1")
    assert len(fetch(web.url(f"/big?n=1000&chunked={chunked}"), max_bytes=1000).content) == 1000
    with pytest.raises(EgressTooLarge, match="响应超过 1000 B 的上限"):
        fetch(web.url(f"/big?n=1001&chunked={chunked}"), max_bytes=1000)
    with pytest.raises(EgressTooLarge, match="1 MB"):
        fetch(web.url(f"/big?n=3000000&chunked={chunked}"), max_bytes=1024 * 1024)


def test_a_slow_server_hits_the_time_cap(db, web):
    allow("127.0.0.1")
    # Every byte arrives well within any read timeout; only a cap on the whole call stops it.
    web.slow_finished = False
    with pytest.raises(EgressTimeout, match="1 秒内没有完成"):
        fetch(web.url("/slow?every=0.2&count=50"), timeout=1)
    assert not web.slow_finished


def test_connection_failures_are_reported_plainly(db, web):
    allow("127.0.0.1")
    unused = WebServer("127.0.0.1")
    port = unused.port
    unused._server.server_close()  # nothing listens there now
    with pytest.raises(EgressFailed, match=r"无法连接到 127.0.0.1"):
        fetch(f"http://127.0.0.1:{port}/")


def test_secrets_stay_out_of_the_logs(tenant_a, tenant_b, fake_openai, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "sk-should-never-be-logged-42"
    fake_openai.api_key = "another"
    endpoint = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, api_key=secret)
    result = endpoint_test_connection(endpoint=endpoint)
    assert not result.ok
    assert secret not in caplog.text and secret not in result.message
