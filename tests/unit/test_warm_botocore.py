"""The warm host's memos in botocore give what botocore gives without them, once."""

from __future__ import annotations

import gc
import weakref

import boto3
import botocore.client
import botocore.compat
import botocore.hooks
import botocore.model
import botocore.session
import pytest
from ansible_collections.smartstream.pipeline.plugins.plugin_utils import warm_botocore
from botocore.stub import Stubber


@pytest.fixture(autouse=True)
def _restored_botocore(monkeypatch):
    """Each test shares afresh; botocore is as it was for the other tests."""
    for owner, name in (
        (botocore.session, "create_loader"),
        (botocore.client.ClientCreator, "_create_methods"),
        (botocore.compat, "accepts_kwargs"),
        (botocore.hooks, "accepts_kwargs"),
        (botocore.hooks.EventAliaser, "__init__"),
    ):
        monkeypatch.setattr(owner, name, getattr(owner, name))
    warm_botocore.share_all()


def session():
    return boto3.session.Session(region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")


def test_clients_of_two_sessions_share_the_operation_methods_and_still_call_their_own_endpoint():
    first, second = session().client("sts"), session().client("sts")
    assert type(first) is not type(second)  # a class per client, as botocore makes it
    assert type(first).get_caller_identity is type(second).get_caller_identity
    with Stubber(second) as stub:
        stub.add_response("get_caller_identity", {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:root"})
        assert second.get_caller_identity()["Account"] == "123456789012"


def test_a_sessions_creating_client_class_handler_changes_its_own_class_only():
    changed = session()

    def add_method(class_attributes, **kwargs):
        class_attributes["whoami"] = lambda self: "changed"
        class_attributes.pop("get_caller_identity")

    changed.events.register("creating-client-class.sts", add_method)
    plain_client = session().client("sts")
    changed_client = changed.client("sts")
    assert changed_client.whoami() == "changed"
    assert not hasattr(changed_client, "get_caller_identity")
    assert not hasattr(plain_client, "whoami")
    assert hasattr(session().client("sts"), "get_caller_identity")


def test_a_service_model_of_another_parse_gets_its_own_methods():
    creator_methods = botocore.client.ClientCreator._create_methods
    loader = botocore.session.get_session().get_component("data_loader")
    model = botocore.model.ServiceModel(loader.load_service_model("sts", "service-2"), "sts")
    copy = botocore.model.ServiceModel(dict(loader.load_service_model("sts", "service-2")), "sts")
    creator = object.__new__(botocore.client.ClientCreator)  # the methods need only its emitter
    creator._event_emitter = botocore.hooks.HierarchicalEmitter()
    assert (
        creator_methods(creator, model)["get_caller_identity"] is creator_methods(creator, model)["get_caller_identity"]
    )
    assert (
        creator_methods(creator, copy)["get_caller_identity"]
        is not creator_methods(creator, model)["get_caller_identity"]
    )


class Handler:
    def __call__(self, **kwargs):
        return None

    def method(self, a, **kwargs):
        return None

    def no_kwargs(self, a):
        return None


def plain(a):
    return a


def with_kwargs(a, **kwargs):
    return a


@pytest.mark.parametrize(
    "handler",
    [plain, with_kwargs, Handler(), Handler().method, Handler().no_kwargs, lambda **kw: None, dict.get],
    ids=[
        "function",
        "function **kwargs",
        "callable object",
        "bound method",
        "bound method no kwargs",
        "lambda",
        "builtin",
    ],
)
def test_accepts_kwargs_answers_as_botocore_does(handler):
    import inspect

    expected = inspect.getfullargspec(handler)[2]
    assert botocore.hooks.accepts_kwargs(handler) == expected
    assert botocore.hooks.accepts_kwargs(handler) == expected  # from the memo


def test_a_bound_handler_is_not_kept_alive_by_the_memo():
    owner = Handler()
    assert botocore.hooks.accepts_kwargs(owner.method)
    gone = weakref.ref(owner)
    del owner
    gc.collect()
    assert gone() is None


def test_an_object_with_its_own_signature_is_read_each_time():
    import inspect

    odd = Handler()
    odd.__signature__ = inspect.Signature([inspect.Parameter("x", inspect.Parameter.POSITIONAL_ONLY)])
    assert botocore.hooks.accepts_kwargs(Handler())
    assert not botocore.hooks.accepts_kwargs(odd)


def test_only_emitters_with_the_default_aliases_share_the_alias_cache():
    default_one = botocore.hooks.EventAliaser(botocore.hooks.HierarchicalEmitter())
    default_two = botocore.hooks.EventAliaser(botocore.hooks.HierarchicalEmitter())
    custom = botocore.hooks.EventAliaser(botocore.hooks.HierarchicalEmitter(), {"old": "new"})
    assert default_one._alias_name_cache is default_two._alias_name_cache
    assert custom._alias_name_cache is not default_one._alias_name_cache
    assert custom._alias_event_name("before-call.old.x") == "before-call.new.x"
    assert default_one._alias_event_name("before-call.old.x") == "before-call.old.x"


def test_sessions_share_one_data_loader_and_sharing_twice_changes_nothing():
    assert session()._session.get_component("data_loader") is session()._session.get_component("data_loader")
    shared = botocore.session.create_loader
    warm_botocore.share_all()
    assert botocore.session.create_loader is shared
