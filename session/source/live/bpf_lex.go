// The built-in capture filter compiler's lexer: a tcpdump expression as
// words, parentheses and the operators and/&&, or/||, not/!.

package live

import "strings"

type ftokKind int

const (
	ftEOF ftokKind = iota
	ftWord
	ftLParen
	ftRParen
	ftNot
	ftAnd
	ftOr
	ftBad // characters of a syntax the built-in compiler does not know
)

type ftok struct {
	kind ftokKind
	text string
}

func isFilterWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == ':' || c == '/' || c == '-' || c == '_'
}

func isFilterSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func filterLex(s string) []ftok {
	var toks []ftok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isFilterSpace(c):
			i++
		case c == '(':
			toks = append(toks, ftok{ftLParen, "("})
			i++
		case c == ')':
			toks = append(toks, ftok{ftRParen, ")"})
			i++
		case c == '!' && (i+1 >= len(s) || s[i+1] != '='):
			toks = append(toks, ftok{ftNot, "!"})
			i++
		case strings.HasPrefix(s[i:], "&&"):
			toks = append(toks, ftok{ftAnd, "&&"})
			i += 2
		case strings.HasPrefix(s[i:], "||"):
			toks = append(toks, ftok{ftOr, "||"})
			i += 2
		case isFilterWordByte(c):
			j := i
			for j < len(s) && isFilterWordByte(s[j]) {
				j++
			}
			w := s[i:j]
			if j < len(s) && !isFilterSpace(s[j]) && s[j] != '(' && s[j] != ')' && s[j] != '!' &&
				!strings.HasPrefix(s[j:], "&&") && !strings.HasPrefix(s[j:], "||") {
				// A word glued to other characters, as tcp[13]: not ours.
				for j < len(s) && !isFilterSpace(s[j]) {
					j++
				}
				toks = append(toks, ftok{ftBad, s[i:j]})
				i = j
				continue
			}
			switch w {
			case "and":
				toks = append(toks, ftok{ftAnd, w})
			case "or":
				toks = append(toks, ftok{ftOr, w})
			case "not":
				toks = append(toks, ftok{ftNot, w})
			default:
				toks = append(toks, ftok{ftWord, w})
			}
			i = j
		default:
			j := i
			for j < len(s) && !isFilterSpace(s[j]) {
				j++
			}
			toks = append(toks, ftok{ftBad, s[i:j]})
			i = j
		}
	}
	return append(toks, ftok{kind: ftEOF})
}
