/*
 * validate_test: the domain-free value checks behind lagwatch.yml(5) on
 * their own: URLs, host:port, label names, unsigned decimals, each with
 * the reason a bad value gets.
 */
#include <stdint.h>
#include <string.h>

#include "util/validate.h"
#include "tests/lib/tap.h"

/* NULL want: valid. */
static void check(bool *tap_failed_, const char *what, const char *in,
                  const char *got, const char *want)
{
    if (!want && got)
        TAP_FAIL_("%s '%s': want valid, got '%s'", what, in, got);
    if (want && (!got || strcmp(want, got) != 0))
        TAP_FAIL_("%s '%s': want '%s', got '%s'", what, in, want,
                  got ? got : "valid");
}

TAP_CASE(urls)
{
    static const struct {
        const char *in, *why;
    } cases[] = {
        {"http://a:8086", NULL},
        {"https://influx-1.example.com", NULL},
        {"http://10.0.0.1:8086/prefix/", NULL},
        {"http://[::1]:9090", NULL},
        {"http://a:65535", NULL},
        {"ftp://a", "must start with http:// or https://"},
        {"http://", "missing host"},
        {"http://:80", "missing host"},
        {"http://a:0", "invalid port"},
        {"http://a:65536", "invalid port"},
        {"http://a:", "invalid port"},
        {"http://a b", "contains a space or control character"},
        {"http://a\tb", "contains a space or control character"},
        {"http://a?x", "invalid character in host"},
        {"http://[]:80", "invalid IPv6 address"},
        {"http://[::1", "invalid IPv6 address"},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        check(tap_failed_, "url", cases[i].in, validate_url(cases[i].in),
              cases[i].why);
        if (*tap_failed_)
            return;
    }
}

TAP_CASE(host_ports)
{
    static const struct {
        const char *in;
        bool listen;
        const char *why;
    } cases[] = {
        {"kafka-1:9092", false, NULL},
        {"[::1]:9092", false, NULL},
        {":9743", true, NULL},
        {"127.0.0.1:0", true, NULL},
        {":9743", false, "missing host"},
        {"k:0", false, "invalid port"},
        {"k", false, "expected host:port"},
        {"k/x:1", false, "invalid character in host"},
        {"k:123456", false, "invalid port"},
        {"k:9x", false, "invalid port"},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        check(tap_failed_, "address", cases[i].in,
              validate_hostport(cases[i].in, cases[i].listen), cases[i].why);
        if (*tap_failed_)
            return;
    }
}

TAP_CASE(label_names)
{
    TAP_OK(validate_label_name("job_name", 8));
    TAP_OK(validate_label_name("_x9", 3));
    TAP_OK(!validate_label_name("", 0));
    TAP_OK(!validate_label_name("9x", 2));
    TAP_OK(!validate_label_name("a-b", 3));
    TAP_OK(!validate_label_name("a:b", 3)); /* classic names: no ':' */
    TAP_OK(validate_label_name("ab-", 2));  /* only n bytes count */
}

TAP_CASE(unsigned_decimals)
{
    uint64_t v = 7;
    TAP_OK(validate_u64("0", &v) == NULL);
    TAP_EQ_U64(0, v);
    TAP_OK(validate_u64("18446744073709551615", &v) == NULL);
    TAP_EQ_U64(UINT64_MAX, v);
    v = 7;
    TAP_EQ_STR("is too large", validate_u64("18446744073709551616", &v));
    TAP_EQ_STR("must not be negative", validate_u64("-1", &v));
    TAP_EQ_STR("must be an integer", validate_u64("", &v));
    TAP_EQ_STR("must be an integer", validate_u64("1.5", &v));
    TAP_EQ_STR("must be an integer", validate_u64(" 1", &v));
    TAP_EQ_STR("must be an integer", validate_u64("-", &v));
    TAP_EQ_U64(7, v); /* untouched on error */
}

static const struct tap_case all[] = {
    TAP_ENTRY(urls),
    TAP_ENTRY(host_ports),
    TAP_ENTRY(label_names),
    TAP_ENTRY(unsigned_decimals),
};

int main(int argc, char **argv)
{
    return tap_main(all, TAP_N(all), argc, argv);
}
