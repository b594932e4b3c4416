"""Every feature's models, imported so that Alembic and create_all see all tables."""


def import_all() -> None:
    from diary import FEATURES, _feature_module

    for feature in FEATURES:
        _feature_module(feature, "models")
