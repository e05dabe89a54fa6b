/* test_units.c: sizes, rates, percentages, durations and networks as the config writes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "../../conf/policy.h"

static uint64_t size_ok(const char *s)
{
        uint64_t v = 0;
        int r = parse_size(s, &v);
        if (r != 0)
                fail_msg("parse_size(\"%s\") = %d, expected success", s, r);
        return v;
}

static void size_fails(const char *s, int expected)
{
        uint64_t v = 12345;
        int r = parse_size(s, &v);
        if (r != expected)
                fail_msg("parse_size(\"%s\") = %d, expected %d", s, r, expected);
        assert_int_equal(v, 12345); /* untouched on failure */
}

static void test_size_units(void **state)
{
        assert_int_equal(size_ok("0"), 0);
        assert_int_equal(size_ok("123"), 123);
        assert_int_equal(size_ok("512K"), 512 * 1024);
        assert_int_equal(size_ok("512k"), 512 * 1024);
        assert_int_equal(size_ok("64M"), 64ULL << 20);
        assert_int_equal(size_ok("2G"), 2ULL << 30);
        assert_int_equal(size_ok("1T"), 1ULL << 40);
        assert_int_equal(size_ok("1P"), 1ULL << 50);
        assert_int_equal(size_ok("1E"), 1ULL << 60);
        assert_int_equal(size_ok("1536M"), 1536ULL << 20);
        assert_int_equal(size_ok("64MB"), 64ULL << 20);
        assert_int_equal(size_ok("64mb"), 64ULL << 20);
        assert_int_equal(size_ok("100B"), 100);
        assert_int_equal(size_ok("max"), LIMIT_MAX);
        assert_int_equal(size_ok("infinity"), LIMIT_MAX);
}

static void test_size_fractions(void **state)
{
        assert_int_equal(size_ok("1.5G"), 3ULL << 29);
        assert_int_equal(size_ok("0.5K"), 512);
        assert_int_equal(size_ok("0.25M"), 256 * 1024);
        /* rounded down to whole bytes */
        assert_int_equal(size_ok("1.0001K"), 1024);
        assert_int_equal(size_ok("1.5"), 1);
        /* more than 9 fraction digits are read, the extra ones add nothing */
        assert_int_equal(size_ok("1.12345678901234G"), (1ULL << 30) + 132560717);
}

static void test_size_junk(void **state)
{
        size_fails("", -EINVAL);
        size_fails("G", -EINVAL);
        size_fails("1.G", -EINVAL);
        size_fails(".5G", -EINVAL);
        size_fails("1GG", -EINVAL);
        size_fails("1KiB", -EINVAL);
        size_fails("-1", -EINVAL);
        size_fails("+1", -EINVAL);
        size_fails(" 1", -EINVAL);
        size_fails("1 G", -EINVAL);
        size_fails("1X", -EINVAL);
        size_fails("0x10", -EINVAL);
        size_fails("1e3", -EINVAL);
        size_fails("Max", -EINVAL);
        size_fails("1/s", -EINVAL); /* only rates take /s */
}

static void test_size_overflow(void **state)
{
        /* The two highest values are the unset/max markers: a size never reaches them. */
        assert_int_equal(size_ok("18446744073709551613"), LIMIT_MAX - 1);
        size_fails("18446744073709551614", -ERANGE);
        size_fails("18446744073709551615", -ERANGE);
        size_fails("18446744073709551616", -ERANGE);
        size_fails("99999999999999999999999", -ERANGE);
        assert_int_equal(size_ok("15E"), 15ULL << 60);
        size_fails("16E", -ERANGE);
        size_fails("17179869184G", -ERANGE); /* 2^34 * 2^30 = 2^64 */
        assert_int_equal(size_ok("17179869183G"), ((1ULL << 34) - 1) << 30);
        assert_int_equal(size_ok("15.5E"), 31ULL << 59);
        size_fails("16.5E", -ERANGE);
}

static void test_rate(void **state)
{
        uint64_t v;
        assert_int_equal(parse_rate("20M/s", &v), 0);
        assert_int_equal(v, 20ULL << 20);
        assert_int_equal(parse_rate("20M", &v), 0);
        assert_int_equal(v, 20ULL << 20);
        assert_int_equal(parse_rate("1.5K/s", &v), 0);
        assert_int_equal(v, 1536);
        assert_int_equal(parse_rate("max", &v), 0);
        assert_int_equal(v, LIMIT_MAX);
        assert_int_equal(parse_rate("/s", &v), -EINVAL);
        assert_int_equal(parse_rate("20M/", &v), -EINVAL);
        assert_int_equal(parse_rate("20M/m", &v), -EINVAL);
        assert_int_equal(parse_rate("20M/s/s", &v), -EINVAL);
        assert_int_equal(parse_rate("max/s", &v), -EINVAL);
        assert_int_equal(parse_rate("16E/s", &v), -ERANGE);
}

static void test_percent(void **state)
{
        uint64_t v;
        assert_int_equal(parse_percent("150%", &v), 0);
        assert_int_equal(v, 150);
        assert_int_equal(parse_percent("0%", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(parse_percent("max", &v), 0);
        assert_int_equal(v, LIMIT_MAX);
        assert_int_equal(parse_percent("150", &v), -EINVAL);
        assert_int_equal(parse_percent("%", &v), -EINVAL);
        assert_int_equal(parse_percent("1.5%", &v), -EINVAL);
        assert_int_equal(parse_percent("-5%", &v), -EINVAL);
        assert_int_equal(parse_percent("5%%", &v), -EINVAL);
        assert_int_equal(parse_percent("18446744073709551616%", &v), -ERANGE);
        assert_int_equal(parse_percent("18446744073709551614%", &v), -ERANGE);
}

static void test_duration(void **state)
{
        uint64_t v;
        assert_int_equal(parse_duration_ms("500ms", &v), 0);
        assert_int_equal(v, 500);
        assert_int_equal(parse_duration_ms("5s", &v), 0);
        assert_int_equal(v, 5000);
        assert_int_equal(parse_duration_ms("2m", &v), 0);
        assert_int_equal(v, 120000);
        assert_int_equal(parse_duration_ms("1h", &v), 0);
        assert_int_equal(v, 3600000);
        assert_int_equal(parse_duration_ms("10", &v), 0); /* plain seconds */
        assert_int_equal(v, 10000);
        assert_int_equal(parse_duration_ms("0", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(parse_duration_ms("5x", &v), -EINVAL);
        assert_int_equal(parse_duration_ms("ms", &v), -EINVAL);
        assert_int_equal(parse_duration_ms("", &v), -EINVAL);
        assert_int_equal(parse_duration_ms("1.5s", &v), -EINVAL);
        assert_int_equal(parse_duration_ms("5 s", &v), -EINVAL);
        assert_int_equal(parse_duration_ms("18446744073709551615ms", &v), 0);
        assert_int_equal(v, UINT64_MAX);
        assert_int_equal(parse_duration_ms("18446744073709551615s", &v), -ERANGE);
        assert_int_equal(parse_duration_ms("18446744073709551616ms", &v), -ERANGE);
}

static struct in6_addr addr(const char *s)
{
        struct in6_addr a;
        if (parse_ip_address(s, &a) != 0)
                fail_msg("parse_ip_address(\"%s\") failed", s);
        return a;
}

static void test_cidr_v4(void **state)
{
        struct cidr c;
        char buf[64];
        assert_int_equal(parse_cidr("10.0.0.0/8", &c), 0);
        assert_int_equal(c.prefix, 96 + 8);
        format_cidr(&c, buf, sizeof(buf));
        assert_string_equal(buf, "10.0.0.0/8");
        struct in6_addr a = addr("10.255.255.255");
        assert_true(cidr_contains(&c, &a));
        a = addr("11.0.0.0");
        assert_false(cidr_contains(&c, &a));
        a = addr("::ffff:10.1.2.3"); /* the v4-mapped form of a v4 address is the same address */
        assert_true(cidr_contains(&c, &a));
        a = addr("::1");
        assert_false(cidr_contains(&c, &a));

        assert_int_equal(parse_cidr("192.168.1.7", &c), 0);
        assert_int_equal(c.prefix, 128);
        a = addr("192.168.1.7");
        assert_true(cidr_contains(&c, &a));
        a = addr("192.168.1.8");
        assert_false(cidr_contains(&c, &a));

        /* /0 of IPv4 is every IPv4 address and no IPv6 one */
        assert_int_equal(parse_cidr("0.0.0.0/0", &c), 0);
        assert_int_equal(c.prefix, 96);
        a = addr("203.0.113.9");
        assert_true(cidr_contains(&c, &a));
        a = addr("2001:db8::1");
        assert_false(cidr_contains(&c, &a));

        assert_int_equal(parse_cidr("10.1.2.3/32", &c), 0);
        assert_int_equal(parse_cidr("192.168.1.0/25", &c), 0);
        a = addr("192.168.1.127");
        assert_true(cidr_contains(&c, &a));
        a = addr("192.168.1.128");
        assert_false(cidr_contains(&c, &a));
}

static void test_cidr_v6(void **state)
{
        struct cidr c;
        char buf[64];
        assert_int_equal(parse_cidr("2001:db8::/32", &c), 0);
        assert_int_equal(c.prefix, 32);
        format_cidr(&c, buf, sizeof(buf));
        assert_string_equal(buf, "2001:db8::/32");
        struct in6_addr a = addr("2001:db8:ffff::1");
        assert_true(cidr_contains(&c, &a));
        a = addr("2001:db9::1");
        assert_false(cidr_contains(&c, &a));

        assert_int_equal(parse_cidr("::1", &c), 0);
        assert_int_equal(c.prefix, 128);
        a = addr("::1");
        assert_true(cidr_contains(&c, &a));

        assert_int_equal(parse_cidr("::/0", &c), 0);
        a = addr("10.0.0.1");
        assert_true(cidr_contains(&c, &a)); /* ::/0 holds everything, mapped v4 included */

        assert_int_equal(parse_cidr("fe80::/10", &c), 0);
        a = addr("fe80::1%eth0"); /* a zone does not change the network */
        assert_true(cidr_contains(&c, &a));
        assert_int_equal(parse_cidr("2001:db8::/127", &c), 0);
        a = addr("2001:db8::1");
        assert_true(cidr_contains(&c, &a));
        a = addr("2001:db8::2");
        assert_false(cidr_contains(&c, &a));
}

static void test_cidr_errors(void **state)
{
        struct cidr c;
        char buf[64];
        /* host bits behind the prefix: refused, with the network it names */
        assert_int_equal(parse_cidr("10.1.0.0/8", &c), -EADDRNOTAVAIL);
        format_cidr(&c, buf, sizeof(buf));
        assert_string_equal(buf, "10.0.0.0/8");
        assert_int_equal(parse_cidr("2001:db8::1/32", &c), -EADDRNOTAVAIL);
        format_cidr(&c, buf, sizeof(buf));
        assert_string_equal(buf, "2001:db8::/32");

        assert_int_equal(parse_cidr("1.2.3.4/33", &c), -ERANGE);
        assert_int_equal(parse_cidr("::/129", &c), -ERANGE);
        assert_int_equal(parse_cidr("10.0.0.0/08", &c), -EINVAL);
        assert_int_equal(parse_cidr("10.0.0.0/", &c), -EINVAL);
        assert_int_equal(parse_cidr("10.0.0.0/-1", &c), -EINVAL);
        assert_int_equal(parse_cidr("10.0.0.0/8/8", &c), -EINVAL);
        assert_int_equal(parse_cidr("10.0.0/8", &c), -EINVAL);
        assert_int_equal(parse_cidr("host.example", &c), -EINVAL);
        assert_int_equal(parse_cidr("fe80::1%eth0", &c), -EINVAL);
        assert_int_equal(parse_cidr("", &c), -EINVAL);
        assert_int_equal(parse_cidr("999.1.1.1", &c), -EINVAL);
        assert_int_equal(parse_cidr("1111:2222:3333:4444:5555:6666:7777:8888:9999/64", &c),
                         -EINVAL);
}

static void test_ip_address(void **state)
{
        struct in6_addr a;
        assert_int_equal(parse_ip_address("10.1.2.3", &a), 0);
        assert_int_equal(parse_ip_address("::1", &a), 0);
        assert_int_equal(parse_ip_address("fe80::1%eth0", &a), 0);
        assert_int_equal(parse_ip_address("host.example", &a), -EINVAL);
        assert_int_equal(parse_ip_address("", &a), -EINVAL);
        assert_int_equal(parse_ip_address("10.0.0.0/8", &a), -EINVAL);
        assert_int_equal(parse_ip_address(NULL, &a), -EINVAL);
}

static void test_format_size(void **state)
{
        static const struct {
                uint64_t v;
                const char *s;
        } cases[] = {
            {0, "0"},
            {1023, "1023"},
            {1024, "1K"},
            {1536, "1536"},
            {1536ULL << 20, "1536M"},
            {2ULL << 30, "2G"},
            {1ULL << 40, "1T"},
            {3ULL << 60, "3E"},
            {LIMIT_MAX, "max"},
            {LIMIT_UNSET, "unset"},
        };
        char buf[32];
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                format_size(cases[i].v, buf, sizeof(buf));
                assert_string_equal(buf, cases[i].s);
                if (cases[i].v != LIMIT_UNSET)
                        assert_int_equal(size_ok(buf), cases[i].v);
        }
        /* a buffer too small truncates, never overflows */
        char tiny[3];
        format_size(1536ULL << 20, tiny, sizeof(tiny));
        assert_string_equal(tiny, "15");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_size_units), cmocka_unit_test(test_size_fractions),
            cmocka_unit_test(test_size_junk),  cmocka_unit_test(test_size_overflow),
            cmocka_unit_test(test_rate),       cmocka_unit_test(test_percent),
            cmocka_unit_test(test_duration),   cmocka_unit_test(test_cidr_v4),
            cmocka_unit_test(test_cidr_v6),    cmocka_unit_test(test_cidr_errors),
            cmocka_unit_test(test_ip_address), cmocka_unit_test(test_format_size),
        };
        return cmocka_run_group_tests_name("units", tests, NULL, NULL);
}
