def test_list_sites_empty(client):
    response = client.get("/sites")
    assert response.status_code == 200
    assert response.json["items"] == []


def test_create_site_as_user(client, user_headers):
    response = client.post("/sites", json={"name": "CESNET-MCC", "address": "cz"}, headers=user_headers)
    assert response.status_code == 201, response.json
