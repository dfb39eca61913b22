import json
import unittest

from server import route


class RouteTest(unittest.TestCase):
    def test_health(self):
        self.assertEqual(route("GET", "/health", ""), (200, {"status": "ok"}))

    def test_login_needs_the_staging_password(self):
        self.assertEqual(route("POST", "/auth/login", json.dumps({"user": "a", "password": "x"}))[0], 401)
        self.assertEqual(route("POST", "/auth/login", json.dumps({"user": "a", "password": "staging-only"}))[0], 200)

    def test_content_needs_a_title(self):
        self.assertEqual(route("POST", "/content", "{}")[0], 400)
        self.assertEqual(route("POST", "/content", json.dumps({"title": "t"}))[0], 201)

    def test_ai_completion(self):
        self.assertEqual(route("POST", "/ai/complete", json.dumps({"prompt": "abc"})), (200, {"completion": "cba"}))


if __name__ == "__main__":
    unittest.main()
