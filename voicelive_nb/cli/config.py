"""``voicelive-nb config``: the effective connection and session configuration (secrets masked)."""

from __future__ import annotations

import argparse
import json

from voicelive_nb.config import SessionConfig
from voicelive_nb.connection import ConnectionSettings, session_config_from_env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``config``."""
    parser.add_argument("--show", action="store_true", help="print the effective configuration (default)")
    parser.add_argument("--config", metavar="FILE", help="a JSON file with a session config")
    parser.add_argument("--endpoint", help="service endpoint (overrides AZURE_VOICELIVE_ENDPOINT)")
    parser.add_argument("--env-file", default=".env", help="the .env file to read (default: ./.env)")


def effective(args: argparse.Namespace) -> tuple[ConnectionSettings, SessionConfig]:
    """The connection and session config the given options resolve to."""
    env_file = getattr(args, "env_file", ".env")
    connection = ConnectionSettings.resolve(endpoint=getattr(args, "endpoint", None), dotenv=env_file)
    base = SessionConfig.from_file(args.config) if getattr(args, "config", None) else None
    return connection, session_config_from_env(base, dotenv=env_file)


def main(args: argparse.Namespace) -> int:
    """Print the effective configuration (secrets masked)."""
    connection, config = effective(args)
    print(json.dumps({"connection": connection.describe(), "session": config.to_dict()}, indent=2))
    return 0
