"""GET /results and /results:search: filters, JSON filters, sorting, pagination, search."""

import json

import pytest

from factories import (
    BenchmarkFactory,
    ClaimFactory,
    FlavorFactory,
    ResultFactory,
    SiteFactory,
    TagFactory,
)


def ids(response):
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def cores(upload):
    return upload.document["machine"]["cpu"]["count"]


def test_json_filter_returns_exactly_the_matching_files(client, cray_uploads, cray_benchmark):
    response = client.get(
        "/results",
        query_string={"benchmark_id": str(cray_benchmark.id), "filters": "machine.cpu.count > 4"},
    )
    expected = {u.id for u in cray_uploads if cores(u) > 4}
    assert set(ids(response)) == expected
    assert response.json["total"] == len(expected)


def test_json_filters_are_anded(client, cray_uploads):
    response = client.get(
        "/results", query_string={"filters": ["machine.cpu.count > 4", "machine.cpu.count < 20"]}
    )
    assert set(ids(response)) == {u.id for u in cray_uploads if 4 < cores(u) < 20}


def test_form_encoded_filter_as_v1_clients_send_it(client, cray_uploads):
    response = client.get("/results?filters=machine.cpu.count+%3E%3D+8")
    assert set(ids(response)) == {u.id for u in cray_uploads if cores(u) >= 8}


@pytest.mark.parametrize(
    ("flt", "check"),
    [
        ("machine.cpu.count == 8", lambda d: d["machine"]["cpu"]["count"] == 8),
        ("machine.cpu.count <= 2", lambda d: d["machine"]["cpu"]["count"] <= 2),
        ("result.score < 100.5", lambda d: d["result"]["score"] < 100.5),
        ("machine.cpu.arch == X86_64", lambda d: d["machine"]["cpu"].get("arch") == "X86_64"),
        ("units == Seconds", lambda d: d["units"] == "Seconds"),
    ],
)
def test_each_operator_and_value_type(client, cray_uploads, flt, check):
    response = client.get("/results", query_string={"filters": flt})
    assert set(ids(response)) == {u.id for u in cray_uploads if check(u.document)}


def test_text_values_may_contain_spaces(client, cray_uploads):
    brand = cray_uploads[0].document["machine"]["cpu"]["brand_raw"]
    response = client.get("/results", query_string={"filters": f"machine.cpu.brand_raw == {brand}"})
    expected = {
        u.id for u in cray_uploads if u.document["machine"]["cpu"].get("brand_raw") == brand
    }
    assert set(ids(response)) == expected


def test_missing_path_or_other_type_does_not_match_and_never_fails(client, cray_uploads):
    assert ids(client.get("/results", query_string={"filters": "no.such.path > 1"})) == []
    # "units" holds text: a numeric comparison matches nothing rather than failing.
    assert ids(client.get("/results", query_string={"filters": "units > 1"})) == []
    assert ids(client.get("/results", query_string={"filters": "machine.cpu.count == true"})) == []


def test_boolean_filter(client, user_headers):
    benchmark, flavor = BenchmarkFactory(), FlavorFactory()
    yes = ResultFactory(benchmark=benchmark, flavor=flavor, json={"gpu": True})
    ResultFactory(benchmark=benchmark, flavor=flavor, json={"gpu": False})
    ResultFactory(benchmark=benchmark, flavor=flavor, json={"gpu": 1})
    assert ids(client.get("/results", query_string={"filters": "gpu == true"})) == [str(yes.id)]


@pytest.mark.parametrize(
    "flt",
    [
        "machine.cpu.count",
        "machine.cpu.count >",
        "machine.cpu.count ~ 4",
        "a..b == 1",
        "flag > true",
    ],
)
def test_malformed_filter_is_422_with_hint_and_example(client, flt):
    response = client.get("/results", query_string={"filters": flt})
    assert response.status_code == 422
    text = json.dumps(response.json)
    assert "machine.cpu.count > 4" in text or "only '=='" in text


def test_sort_by_json_value(client, cray_uploads):
    response = client.get("/results", query_string={"sort_by": "-json.result.score"})
    scores = [item["json"]["result"]["score"] for item in response.json["items"]]
    assert scores == sorted((u.document["result"]["score"] for u in cray_uploads), reverse=True)
    response = client.get("/results?sort_by=%2Bjson.result.score")
    scores = [item["json"]["result"]["score"] for item in response.json["items"]]
    assert scores == sorted(u.document["result"]["score"] for u in cray_uploads)


def test_sort_by_json_puts_missing_values_last(client):
    benchmark, flavor = BenchmarkFactory(), FlavorFactory()
    low = ResultFactory(benchmark=benchmark, flavor=flavor, json={"v": 1})
    high = ResultFactory(benchmark=benchmark, flavor=flavor, json={"v": 2.5})
    text = ResultFactory(benchmark=benchmark, flavor=flavor, json={"v": "abc"})
    missing = ResultFactory(benchmark=benchmark, flavor=flavor, json={})
    order = ids(client.get("/results", query_string={"sort_by": "-json.v"}))
    assert order == [str(high.id), str(low.id), str(text.id), str(missing.id)]


def test_sort_by_catalogue_names_and_several_keys(client, cray_uploads):
    response = client.get("/results", query_string={"sort_by": "-site_name,+flavor_name"})
    keys = [(i["site"]["name"], i["flavor"]["name"]) for i in response.json["items"]]
    assert keys == sorted(keys, key=lambda k: (_neg(k[0]), k[1]))


def _neg(text):
    return [-ord(c) for c in text] + [1]


def test_default_order_is_execution_time_then_id(client):
    flavor, benchmark = FlavorFactory(), BenchmarkFactory()
    results = [ResultFactory(flavor=flavor, benchmark=benchmark) for _ in range(5)]
    expected = sorted(results, key=lambda r: (r.execution_datetime, str(r.id)))
    assert ids(client.get("/results")) == [str(r.id) for r in expected]


@pytest.mark.parametrize("sort_by", ["name", "+nope", "-json", "json.x", "+json..x"])
def test_bad_sort_by_is_422_naming_the_field(client, sort_by):
    response = client.get("/results", query_string={"sort_by": sort_by})
    assert response.status_code == 422
    assert "sort_by" in response.json["errors"]["query"]


def test_pages_never_repeat_or_skip(client):
    flavor, benchmark = FlavorFactory(), BenchmarkFactory()
    same_time = ResultFactory(flavor=flavor, benchmark=benchmark).execution_datetime
    made = {
        str(ResultFactory(flavor=flavor, benchmark=benchmark, execution_datetime=same_time).id)
        for _ in range(6)
    }
    seen = []
    for page in (1, 2, 3, 4):
        seen += ids(client.get("/results", query_string={"per_page": 2, "page": page}))
    assert len(seen) == len(set(seen)) == 7
    assert made < set(seen)


def test_filters_by_catalogue_ids_and_dates(client):
    site = SiteFactory()
    flavor_a, flavor_b = FlavorFactory(site=site), FlavorFactory(site=site)
    other = FlavorFactory()
    benchmark = BenchmarkFactory()
    a = ResultFactory(flavor=flavor_a, benchmark=benchmark)
    b = ResultFactory(flavor=flavor_b)
    c = ResultFactory(flavor=other, benchmark=benchmark)
    assert set(ids(client.get(f"/results?site_id={site.id}"))) == {str(a.id), str(b.id)}
    assert ids(client.get(f"/results?flavor_id={flavor_b.id}")) == [str(b.id)]
    assert set(ids(client.get(f"/results?benchmark_id={benchmark.id}"))) == {str(a.id), str(c.id)}
    assert ids(client.get("/results?execution_after=2999-01-01")) == []
    assert len(ids(client.get("/results?execution_before=2999-01-01"))) == 3
    assert ids(client.get("/results?upload_before=2000-01-01")) == []


def test_a_flavor_with_its_own_site_or_another(client):
    """The site condition is dropped when it is the flavor's own (implied), and a flavor
    of another site still selects nothing, in the page, its total and an aggregate."""
    site = SiteFactory()
    flavor, elsewhere = FlavorFactory(site=site), FlavorFactory()
    mine = [ResultFactory(flavor=flavor), ResultFactory(flavor=flavor)]
    ResultFactory(flavor=elsewhere)
    own = client.get(f"/results?site_id={site.id}&flavor_id={flavor.id}")
    assert set(ids(own)) == {str(r.id) for r in mine} and own.json["total"] == 2
    for _ in range(2):  # the second time the flavor's site comes from the catalogue cache
        crossed = client.get(f"/results?site_id={site.id}&flavor_id={elsewhere.id}")
        assert ids(crossed) == [] and crossed.json["total"] == 0
    unknown = client.get(f"/results?site_id={site.id}&flavor_id={site.id}")
    assert ids(unknown) == []


def test_tags_ids_must_all_be_carried_and_axios_style_works(client):
    gpu, hpc = TagFactory(name="gpu"), TagFactory(name="hpc")
    both = ResultFactory(tags=[gpu, hpc])
    ResultFactory(tags=[gpu])
    ResultFactory()
    query = f"tags_ids={gpu.id}&tags_ids={hpc.id}"
    assert ids(client.get(f"/results?{query}")) == [str(both.id)]
    query = f"tags_ids[]={gpu.id}&tags_ids[]={hpc.id}"
    assert ids(client.get(f"/results?{query}")) == [str(both.id)]
    assert len(ids(client.get(f"/results?tags_ids={gpu.id}"))) == 2


def test_claimed_results_are_hidden_from_lists_but_not_from_get(client):
    shown = ResultFactory()
    claim = ClaimFactory()
    hidden = claim.resource
    assert ids(client.get("/results")) == [str(shown.id)]
    assert ids(client.get("/results:search")) == [str(shown.id)]
    assert client.get(f"/results/{hidden.id}").status_code == 200


def test_unknown_argument_and_bad_pagination_are_422(client):
    assert client.get("/results?colour=red").status_code == 422
    assert client.get("/results?per_page=101").status_code == 422
    assert client.get("/results?page=0").status_code == 422
    assert client.get("/results?benchmark_id=not-a-uuid").status_code == 422


def test_search_terms_match_catalogue_names_and_exact_tags(client):
    cesnet = SiteFactory(name="CESNET-MCC", address="brno.cz")
    ifca = SiteFactory(name="IFCA-LCG2", address="santander.es")
    cray = BenchmarkFactory(docker_image="thechristophe/openbench-c-ray", docker_tag="latest")
    tf = BenchmarkFactory(docker_image="deephdc/deep-oc-benchmarks_cnn", docker_tag="benchmark")
    gpu = TagFactory(name="gpu")
    r1 = ResultFactory(flavor=FlavorFactory(site=cesnet, name="hpc.8core-16ram"), benchmark=cray)
    r2 = ResultFactory(flavor=FlavorFactory(site=ifca, name="m1.xlarge"), benchmark=tf, tags=[gpu])

    def search(*terms):
        return set(ids(client.get("/results:search", query_string={"terms": list(terms)})))

    assert search("cesnet") == {str(r1.id)}
    assert search("BRNO") == {str(r1.id)}
    assert search("c-ray:lat") == {str(r1.id)}
    assert search("xlarge") == {str(r2.id)}
    assert search("gpu") == {str(r2.id)}
    assert search("gp") == set()
    assert search("cesnet", "c-ray") == {str(r1.id)}
    assert search("cesnet", "xlarge") == set()
    assert search("") == {str(r1.id), str(r2.id)}
    assert search("100%") == set()


def test_search_sorts_and_pages(client):
    site = SiteFactory(name="CESGA")
    made = [ResultFactory(flavor=FlavorFactory(site=site)) for _ in range(3)]
    response = client.get(
        "/results:search", query_string={"terms": "cesga", "sort_by": "-id", "per_page": 2}
    )
    assert response.json["total"] == 3
    assert ids(response) == sorted((str(r.id) for r in made), reverse=True)[:2]
