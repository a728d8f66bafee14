import pytest

# The helpers in tests.support assert too: pytest explains their failures as it does the tests'.
pytest.register_assert_rewrite("tests.support")
