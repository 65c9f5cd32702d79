"""Serializers that build their fields once per class give every instance fields of its own."""

from __future__ import annotations

import copy

import pytest
from rest_framework import serializers

from referrals.api.serializers import FieldsBuiltOnce, ReferralCreateSerializer, ReferralSerializer

BUILT_ONCE = [ReferralCreateSerializer, ReferralSerializer]


@pytest.mark.parametrize("serializer_class", BUILT_ONCE)
def test_the_fields_are_configured_as_drfs_own_deep_copy_configures_them(serializer_class):
    deep_copies = copy.deepcopy(serializer_class._declared_fields)
    fields = serializer_class().fields
    assert list(fields) == list(deep_copies)
    for name, field in fields.items():
        assert type(field) is type(deep_copies[name])
        assert repr(field) == repr(deep_copies[name]), name


@pytest.mark.parametrize("serializer_class", BUILT_ONCE)
def test_each_instance_binds_fields_of_its_own(serializer_class):
    first, second = serializer_class(), serializer_class()
    for name in first.fields:
        field, other = first.fields[name], second.fields[name]
        assert field is not other
        assert field.parent is first and other.parent is second
        assert field.field_name == name
        child = getattr(field, "child", None)
        if child is not None:
            assert child is not other.child
            assert child.parent is field
            assert child.root is first


def test_a_list_fields_child_validates_through_its_own_copy():
    serializer = ReferralCreateSerializer(data={"languages": ["x" * 21]})
    assert not serializer.is_valid()
    assert serializer.errors["languages"] == {0: ["Ensure this field has no more than 20 characters."]}


def test_a_validator_added_to_one_instances_field_stays_there():
    first = ReferralCreateSerializer()
    first.fields["given_name"].validators.append(lambda value: None)
    first.fields["given_name"].error_messages["blank"] = "Changed."
    first.fields["languages"].child.validators.append(lambda value: None)
    second = ReferralCreateSerializer()
    assert len(second.fields["given_name"].validators) == len(first.fields["given_name"].validators) - 1
    assert second.fields["given_name"].error_messages["blank"] != "Changed."
    assert (
        len(second.fields["languages"].child.validators)
        == len(first.fields["languages"].child.validators) - 1
    )


def test_a_subclass_keeps_prototypes_of_its_own():
    class Base(FieldsBuiltOnce):
        name = serializers.CharField()

    class Extended(Base):
        extra = serializers.IntegerField()

    assert list(Base().fields) == ["name"]
    assert list(Extended().fields) == ["name", "extra"]
    assert list(Base().fields) == ["name"]
