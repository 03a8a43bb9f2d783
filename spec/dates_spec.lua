-- spec/dates_spec.lua: dates as Lua values (lua/imapsift/dates.lua).
local dates = require "imapsift.dates"
local imapsift = require "imapsift"
local errors = require "imapsift.error"

local function usage_error(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok)
  assert.is_true(errors.is(err, "usage"), tostring(err))
  return err
end

describe("dates", function()
  it("turns YYYY-MM-DD into UTC midnight epoch seconds", function()
    assert.equal(0, dates.value("1970-01-01"))
    assert.equal(1706745600, dates.value("2024-02-01"))
    assert.equal(1709164800, dates.value("2024-02-29"))
    assert.equal(951782400, dates.value("2000-02-29"))
  end)

  it("passes epoch seconds through, integral floats too", function()
    assert.equal(1700000000, dates.value(1700000000))
    assert.equal(1700000000, dates.value(1.7e9))
    assert.equal("integer", math.type(dates.value(1.7e9)))
  end)

  it("refuses anything else with a usage error naming it", function()
    usage_error(dates.value, "2023-02-29")
    usage_error(dates.value, "2024-13-01")
    usage_error(dates.value, "1-Feb-2024")
    usage_error(dates.value, 1.5)
    local err = usage_error(dates.value, {}, "since")
    assert.equal("since", err.command)
  end)

  it("days_ago counts back whole days from now", function()
    local before = os.time()
    local t = imapsift.days_ago(30)
    assert.is_true(t <= before - 30 * 86400 + 5 and t >= before - 30 * 86400 - 5)
    assert.equal(imapsift.days_ago, dates.days_ago)
    usage_error(dates.days_ago, -1)
    usage_error(dates.days_ago, "x")
  end)
end)
