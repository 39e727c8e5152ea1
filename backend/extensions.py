"""The Flask extensions, as bare instances; ``backend.app`` initialises them per app."""

from apispec.ext.marshmallow import MarshmallowPlugin, resolve_schema_cls
from flaat.flask import Flaat
from flask_mailman import Mail
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from backend.read_routing import RoutingSession


class Base(DeclarativeBase):
    """Declarative base whose constraint names are stable, so Alembic can alter them."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def schema_name(schema) -> str:
    """OpenAPI component names: ``Site``; ``UpdateSite`` for partial (PUT) bodies."""
    cls = resolve_schema_cls(schema)
    name = cls.__name__
    if getattr(schema, "partial", False):
        return "Update" + name.removeprefix("Create")
    if getattr(schema, "exclude", None):
        return name + "Public"
    return name


api = Api(spec_kwargs={"marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=schema_name)})
db = SQLAlchemy(model_class=Base, session_options={"class_": RoutingSession})
migrate = Migrate()
flaat = Flaat()
mail = Mail()
