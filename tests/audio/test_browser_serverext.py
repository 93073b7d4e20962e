"""The browser audio's server extension is enabled in this environment by installing the package."""

from __future__ import annotations

from jupyter_core.paths import jupyter_config_path
from jupyter_server.extension.config import ExtensionConfigManager
from jupyter_server.extension.manager import ExtensionPackage

from voicelive_nb.audio.browser import serverext


def test_installing_the_package_enables_the_server_extension() -> None:
    # what jupyter_server reads from the environment's jupyter_server_config.d (the wheel's shared-data)
    enabled = ExtensionConfigManager(read_config_path=jupyter_config_path()).get_jpserver_extensions()
    assert enabled.get("voicelive_nb") is True, enabled
    package = ExtensionPackage(name="voicelive_nb", enabled=True)
    assert [point.module for point in package.extension_points.values()] == [serverext]
    assert package.validate()
