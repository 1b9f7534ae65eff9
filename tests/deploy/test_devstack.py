"""The dev stack's wiring, without starting it: the environment each process gets."""

from __future__ import annotations

from pathlib import Path

from deploy.devstack import DevStack, Ports, StackOptions


class TestEnvironment:
    def test_every_public_link_points_at_this_stacks_gateway(self, tmp_path: Path) -> None:
        stack = DevStack(
            StackOptions(
                ports=Ports(9000, 9001, 9002, 9003, 9004, 9029, 9025, 9026, 9027, 9028),
                work_dir=tmp_path,
            )
        )

        env = stack._environment()

        public_urls = {name: value for name, value in env.items() if "PUBLIC_BASE_URL" in name}
        assert set(public_urls) >= {
            "IDENTITY_PUBLIC_BASE_URL",
            "DISPATCH_PUBLIC_BASE_URL",
            "ALERTS_PUBLIC_BASE_URL",
        }
        for name, url in public_urls.items():
            assert url.startswith("http://127.0.0.1:9000"), name
