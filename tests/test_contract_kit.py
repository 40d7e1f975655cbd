"""The contract kit on a provider built as a vendor would, and on variants of it that
are each wrong in one way: the kit passes the first and fails every variant, saying
what to fix.

Each variant is run through the kit's check that must catch it (running all of
them for each of sixteen variants would take minutes); the full kit runs on the
sound provider, and on the nexmo and sms_credit plugins in their own tests.
"""

from __future__ import annotations

import pytest
from postroom_acme import Acme
from postroom_acme.broken import BROKEN
from postroom_acme.kit import AcmeContract


class TestAcmeContract(AcmeContract):
    plugin = Acme()


def test_each_broken_variant_names_a_check_the_kit_has():
    assert {check for check, _ in BROKEN.values()} <= set(dir(AcmeContract))


@pytest.mark.parametrize(("variant", "check", "fix"),
                         [(name, *caught) for name, caught in BROKEN.items()])
def test_the_kit_fails_a_broken_provider_saying_what_to_fix(pytester, variant, check, fix):
    pytester.makepyfile(test_kit=f"""
        from postroom_acme.broken import {variant}
        from postroom_acme.kit import AcmeContract

        class TestKit(AcmeContract):
            plugin = {variant}()
        """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", "-k", check)
    output = result.stdout.str()
    assert result.parseoutcomes().get("failed", 0) == 1, output
    assert fix in output.replace("\n", " "), output


def test_a_fixture_left_out_is_a_skip_naming_what_it_would_check(pytester):
    pytester.makepyfile(test_kit="""
        import pytest
        from postroom_acme import Acme
        from postroom_acme.kit import AcmeContract

        class TestKit(AcmeContract):
            plugin = Acme()

            @pytest.fixture
            def throttle(self):
                return None
        """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rs", "-k", "throttl")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no throttle fixture: would check that a throttling answer "
                                 "(HTTP 429) is throttled with the Retry-After time*"])
