"""The catalogue as DataFrames: every page of it, and ids looked up by name."""

from __future__ import annotations

import pytest

from factories import BenchmarkFactory, FlavorFactory, SiteFactory, TagFactory
from perfclient import NotListed


def test_sites_are_a_frame_of_every_page(anonymous):
    sites = SiteFactory.create_batch(101)

    frame = anonymous.sites()

    assert len(frame) == 101
    assert set(frame["id"]) == {str(site.id) for site in sites}
    assert list(frame.columns[:1]) == ["id"]
    assert str(frame["upload_datetime"].dt.tz) == "UTC"


def test_benchmarks_have_a_name_column(anonymous):
    benchmark = BenchmarkFactory(docker_image="example/c-ray", docker_tag="2.0")

    frame = anonymous.benchmarks()

    assert frame.loc[0, "name"] == "example/c-ray:2.0"
    assert frame.loc[0, "id"] == str(benchmark.id)
    assert frame.loc[0, "json_schema"] == benchmark.json_schema


def test_flavors_of_every_site_name_their_site(anonymous):
    first, second = FlavorFactory(), FlavorFactory()

    frame = anonymous.flavors()

    assert sorted(zip(frame["name"], frame["site"], strict=True)) == sorted(
        [(first.name, first.site.name), (second.name, second.site.name)]
    )
    assert set(frame["site_id"]) == {str(first.site.id), str(second.site.id)}


def test_flavors_of_one_site(anonymous):
    flavor = FlavorFactory()
    FlavorFactory()

    frame = anonymous.flavors(site_id=flavor.site.id)

    assert list(frame["id"]) == [str(flavor.id)]


def test_tags(anonymous):
    tag = TagFactory(description="GPU runs")

    frame = anonymous.tags()

    assert frame.to_dict("records") == [
        {"id": str(tag.id), "name": tag.name, "description": "GPU runs"}
    ]


def test_ids_are_looked_up_by_name(anonymous):
    flavor = FlavorFactory(name="m1.large", site=SiteFactory(name="CESGA"))
    benchmark = BenchmarkFactory(docker_image="thechristophe/openbench-c-ray", docker_tag="latest")

    assert anonymous.site_id("CESGA") == str(flavor.site.id)
    assert anonymous.flavor_id("CESGA", "m1.large") == str(flavor.id)
    assert anonymous.benchmark_id("thechristophe/openbench-c-ray:latest") == str(benchmark.id)


def test_an_unknown_name_says_what_was_not_found(anonymous):
    SiteFactory(name="CESGA")

    with pytest.raises(NotListed, match="No site 'IFCA' is listed"):
        anonymous.site_id("IFCA")
