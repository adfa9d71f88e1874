"""The fingerprint that tells a resend from another request under the same Idempotency-Key."""

from __future__ import annotations

from api.idempotency import fingerprint


def multipart(boundary: str, amount: str) -> tuple[bytes, str]:
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="amount"\r\n\r\n'
        f"{amount}\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="evidence_file"; filename="回单.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
        "\x89PNG...\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_a_resent_form_with_a_new_boundary_is_the_same_request() -> None:
    # A browser draws a new boundary for each send: a double tap must replay, not be refused.
    body, content_type = multipart("----WebKitFormBoundaryA1", "25000000.00")
    again, again_type = multipart("----WebKitFormBoundaryZ9", "25000000.00")
    assert body != again
    assert fingerprint(body, None, content_type) == fingerprint(again, None, again_type)


def test_another_value_under_the_same_key_is_another_request() -> None:
    body, content_type = multipart("b1", "25000000.00")
    other, other_type = multipart("b2", "26000000.00")
    assert fingerprint(body, None, content_type) != fingerprint(other, None, other_type)
    # Without its content type the boundary is part of the body, as before.
    assert fingerprint(body, None) != fingerprint(multipart("b2", "25000000.00")[0], None)


def test_json_bodies_compare_whatever_their_spacing_and_order() -> None:
    assert fingerprint(b'{"a": 1, "b": 2}', None) == fingerprint(b'{"b":2,"a":1}', None)
    assert fingerprint(b'{"a": 1}', '"3"') != fingerprint(b'{"a": 1}', '"4"')
