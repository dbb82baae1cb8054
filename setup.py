"""Package list for setuptools: the top-level ops/ and device_profiles/ folders install under perfmodel."""

from setuptools import find_packages, setup

packages = find_packages(include=["perfmodel", "perfmodel.*"])
packages += ["perfmodel.ops"] + [f"perfmodel.ops.{name}" for name in find_packages("ops")]
packages += ["perfmodel.device_profiles"]

setup(packages=packages)
