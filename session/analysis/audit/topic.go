package audit

// This file follows mosquitto 2.0's lib/util_topic.c: the ACL check matches
// with mosquitto_topic_matches_sub, and the acl_file parser validates topics
// with mosquitto_sub_topic_check. Both work on C strings, so a NUL byte ends
// a string here too.

// topicHierarchyLimit is mosquitto's TOPIC_HIERARCHY_LIMIT: a topic or filter
// with more '/' than this is invalid in the broker.
const topicHierarchyLimit = 200

// cstr returns s up to its first NUL byte, as C sees it.
func cstr(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return s[:i]
		}
	}
	return s
}

// at returns s[i], or 0 past the end, like reading a NUL-terminated string.
func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

// topicMatchesSub reports whether topic matches the subscription filter sub,
// exactly as mosquitto_topic_matches_sub decides (an invalid filter or a
// topic containing a wildcard never matches):
//   - + matches one level, even an empty one; # matches the rest, including
//     the parent level ("a/#" matches "a");
//   - a topic starting with $ only matches a filter starting with $ and the
//     other way round.
func topicMatchesSub(sub, topic string) bool {
	sub, topic = cstr(sub), cstr(topic)
	if sub == "" || topic == "" {
		return false
	}
	if (sub[0] == '$') != (topic[0] == '$') {
		return false
	}
	s, t := 0, 0
	for at(sub, s) != 0 {
		if c := at(topic, t); c == '+' || c == '#' {
			return false
		}
		if at(sub, s) != at(topic, t) || at(topic, t) == 0 {
			switch at(sub, s) {
			case '+':
				// "+foo", "a/+foo", "foo+" and "foo+/a" are invalid.
				if s > 0 && sub[s-1] != '/' {
					return false
				}
				if c := at(sub, s+1); c != 0 && c != '/' {
					return false
				}
				s++
				for at(topic, t) != 0 && at(topic, t) != '/' {
					if c := topic[t]; c == '+' || c == '#' {
						return false
					}
					t++
				}
				if at(topic, t) == 0 && at(sub, s) == 0 {
					return true
				}
			case '#':
				// "foo#" and "#foo" are invalid.
				if s > 0 && sub[s-1] != '/' {
					return false
				}
				if at(sub, s+1) != 0 {
					return false
				}
				for ; t < len(topic); t++ {
					if c := topic[t]; c == '+' || c == '#' {
						return false
					}
				}
				return true
			default:
				// "foo/bar" matches "foo/+/#".
				return at(topic, t) == 0 && s > 0 && sub[s-1] == '+' &&
					at(sub, s) == '/' && at(sub, s+1) == '#'
			}
		} else {
			if at(topic, t+1) == 0 {
				// "foo" matches "foo/#".
				if at(sub, s+1) == '/' && at(sub, s+2) == '#' && at(sub, s+3) == 0 {
					return true
				}
			}
			s++
			t++
			if at(sub, s) == 0 && at(topic, t) == 0 {
				return true
			}
			if at(topic, t) == 0 && at(sub, s) == '+' && at(sub, s+1) == 0 {
				return s == 0 || sub[s-1] == '/'
			}
		}
	}
	return false
}

// subTopicCheck reports whether filter is a valid subscription filter for
// mosquitto (mosquitto_sub_topic_check as built into the broker): + and #
// stand alone in their level, # comes last, at most 65535 bytes and
// topicHierarchyLimit levels separators.
func subTopicCheck(filter string) bool {
	filter = cstr(filter)
	if len(filter) > 65535 {
		return false
	}
	var prev byte
	levels := 0
	for i := 0; i < len(filter); i++ {
		switch c := filter[i]; c {
		case '+':
			if (prev != 0 && prev != '/') || (at(filter, i+1) != 0 && at(filter, i+1) != '/') {
				return false
			}
		case '#':
			if (prev != 0 && prev != '/') || at(filter, i+1) != 0 {
				return false
			}
		case '/':
			levels++
		}
		prev = filter[i]
	}
	return levels <= topicHierarchyLimit
}
