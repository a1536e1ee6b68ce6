/*
 * page_cells.c - where each finding is shown on the verdict page: its JSON
 * pointer mapped to the cell of the header or of the tables that shows
 * that node (or the nearest one that does), the highlighted cells with
 * their links to the findings, and the cells' names in words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page_int.h"

#define MAX_TOKENS 6
#define TOKEN_SIZE 40

/* A pointer's first tokens, unescaped; a token too long for TOKEN_SIZE
 * reads as "?", which names nothing on the page. */
struct toks {
	char t[MAX_TOKENS][TOKEN_SIZE];
	int n;
};

static void split(const char *path, struct toks *tk)
{
	tk->n = 0;
	while (*path == '/' && tk->n < MAX_TOKENS) {
		char *t = tk->t[tk->n++];
		size_t k = 0;
		bool too_long = false;
		for (path++; *path != '\0' && *path != '/'; path++) {
			char c = *path;
			if (c == '~' && (path[1] == '0' || path[1] == '1'))
				c = *++path == '0' ? '~' : '/';
			if (k + 1 < TOKEN_SIZE)
				t[k++] = c;
			else
				too_long = true;
		}
		if (too_long)
			k = 0, t[k++] = '?';
		t[k] = '\0';
	}
}

/* t as an array index below lim (RFC 6901: no leading zero); any lim,
 * however many digits t has. */
static bool index_of(const char *t, size_t lim, size_t *out)
{
	size_t v = 0;

	if (*t == '\0' || (t[0] == '0' && t[1] != '\0'))
		return false;
	for (; *t; t++) {
		size_t d = (size_t)(*t - '0');
		if (*t < '0' || *t > '9' || v > (SIZE_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return v < lim;
}

static bool one_of(const char *t, const char *const *names)
{
	for (; *names; names++)
		if (strcmp(t, *names) == 0)
			return true;
	return false;
}

static const char *const header_fields[] = {
    "id", "authority", "subject", "currency", "total", "format", NULL};
static const char *const mission_fields[] = {"id",  "destination", "start",
					     "end", "cost",	   NULL};
static const char *const counts[] = {"councillors", "guests", "staff", "size",
				     NULL};
static const char *const member_fields[] = {"name", "role", NULL};
static const char *const expense_fields[] = {"date", "category", "amount",
					     "description", NULL};

/* "/t" after key. */
static void add_token(struct strbuf *key, const char *t)
{
	sb_addc(key, '/');
	sb_adds(key, t);
}

/* "/missions/row" after key. */
static void row_key(struct strbuf *key, size_t row)
{
	sb_adds(key, "/missions/");
	sb_addu(key, row);
}

/* The key under mission row i of its list of members (which 0) or
 * expenses (1), tokens from t[at] on (at is the list's own token). */
static void detail_key(const struct pg *p, const struct toks *tk, int at,
		       size_t row, int which, struct strbuf *key)
{
	const char *list = which ? "/expenses" : "/delegation/members";
	const struct pg_row *r = &p->row[row];
	size_t k;

	row_key(key, row);
	if (r->shown[which] == 0)
		return; /* no <details>: the row */
	sb_adds(key, list);
	if (tk->n <= at + 1 || !index_of(tk->t[at + 1], r->shown[which], &k))
		return;
	sb_addc(key, '/');
	sb_addu(key, k);
	if (tk->n > at + 2 &&
	    json_is_object(json_array_get(r->list[which], k)) &&
	    one_of(tk->t[at + 2], which ? expense_fields : member_fields))
		add_token(key, tk->t[at + 2]);
}

/* The key of the cell that shows path into key; false: none does. */
static bool key_of(const struct pg *p, const char *path, struct strbuf *key)
{
	struct toks tk;
	size_t row;

	split(path, &tk);
	if (tk.n == 0 || p->in->report == NULL)
		return false;
	const char *t0 = tk.t[0], *t1 = tk.t[1], *t2 = tk.t[2];
	if (one_of(t0, header_fields) ||
	    (strcmp(t0, "missions") == 0 && tk.n == 1)) {
		add_token(key, t0);
		return true;
	}
	if (strcmp(t0, "meeting") == 0 || strcmp(t0, "period") == 0) {
		const char *const meeting[] = {"body", "date", NULL};
		const char *const period[] = {"start", "end", NULL};
		const json_t *o = json_object_get(p->in->report, t0);
		add_token(key, t0);
		/* its parts have cells of their own when it is an object */
		if (tk.n > 1 && (o == NULL || json_is_object(o)) &&
		    one_of(t1, t0[0] == 'm' ? meeting : period))
			add_token(key, t1);
		return true;
	}
	if (strcmp(t0, "missions") != 0 || !index_of(t1, p->nrows, &row))
		return false;
	if (!json_is_object(json_array_get(p->missions, row))) {
		/* one cell for all of it (an array's missing fields) */
		row_key(key, row);
	} else if (tk.n > 2 && one_of(t2, mission_fields)) {
		row_key(key, row);
		add_token(key, t2);
	} else if (tk.n > 3 && strcmp(t2, "delegation") == 0 &&
		   one_of(tk.t[3], counts)) {
		row_key(key, row);
		sb_adds(key, "/delegation");
		add_token(key, tk.t[3]);
	} else if (tk.n > 3 && strcmp(t2, "delegation") == 0 &&
		   strcmp(tk.t[3], "members") == 0) {
		detail_key(p, &tk, 3, row, 0, key);
	} else if (tk.n > 2 && strcmp(t2, "expenses") == 0) {
		detail_key(p, &tk, 2, row, 1, key);
	} else {
		row_key(key, row);
	}
	return true;
}

/* How many of the n items of a list a <details> shows, from *budget. */
static size_t shown_of(size_t n, size_t *budget)
{
	if (n > PAGE_MAX_DETAIL_ROWS)
		n = PAGE_MAX_DETAIL_ROWS;
	if (n > *budget)
		n = 0; /* the whole list or nothing */
	*budget -= n;
	return n;
}

static int by_cell(const void *a, const void *b, void *arg)
{
	char **cell = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(cell[x], cell[y]);

	return c != 0 ? c : x < y ? -1 : x > y;
}

int pg_cells_init(struct pg *p)
{
	const struct judgement *j = p->in->j;
	size_t budget = PAGE_MAX_DETAIL_TOTAL, n = j->nfindings;

	p->missions = json_object_get(p->in->report, "missions");
	if (!json_is_array(p->missions))
		p->missions = NULL;
	p->nrows = json_array_size(p->missions);
	if (p->nrows > PAGE_MAX_ROWS)
		p->nrows = PAGE_MAX_ROWS;
	p->row = calloc(p->nrows ? p->nrows : 1, sizeof(*p->row));
	p->cell = calloc(n ? n : 1, sizeof(*p->cell));
	p->order = calloc(n ? n : 1, sizeof(*p->order));
	p->listed = calloc(n ? n : 1, sizeof(*p->listed));
	if (!p->row || !p->cell || !p->order || !p->listed)
		return -1;
	for (size_t i = 0; i < p->nrows; i++) {
		struct pg_row *r = &p->row[i];
		const json_t *m = json_array_get(p->missions, i);
		r->list[0] = json_object_get(json_object_get(m, "delegation"),
					     "members");
		r->list[1] = json_object_get(m, "expenses");
		for (int w = 0; w < 2; w++) {
			r->all[w] = json_array_size(r->list[w]);
			r->shown[w] = shown_of(r->all[w], &budget);
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct strbuf key = STRBUF_INIT;
		if (!key_of(p, j->findings[i].path, &key))
			continue;
		if ((p->cell[i] = sb_detach(&key, NULL)) == NULL)
			return -1;
		p->order[p->norder++] = i;
	}
	qsort_r(p->order, p->norder, sizeof(*p->order), by_cell, p->cell);
	return 0;
}

void pg_cells_release(struct pg *p)
{
	for (size_t i = 0; p->cell && i < p->in->j->nfindings; i++)
		free(p->cell[i]);
	free(p->cell);
	free(p->order);
	free(p->row);
	free(p->listed);
	p->listed = NULL;
	p->cell = NULL;
	p->order = NULL;
	p->row = NULL;
}

/* The findings shown at key (or, prefix: at key and below it), as the
 * range [*lo, *hi) of p->order. */
static void range(const struct pg *p, const char *key, bool prefix, size_t *lo,
		  size_t *hi)
{
	size_t a = 0, b = p->norder, n = strlen(key);

	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (strcmp(p->cell[p->order[m]], key) < 0)
			a = m + 1;
		else
			b = m;
	}
	*lo = a;
	while (a < p->norder) {
		const char *c = p->cell[p->order[a]];
		if (prefix ? strncmp(c, key, n) != 0 ||
				 (c[n] != '\0' && c[n] != '/')
			   : strcmp(c, key) != 0)
			break;
		a++;
	}
	*hi = a;
}

bool pg_cells_under(const struct pg *p, const char *key)
{
	size_t lo, hi;

	range(p, key, true, &lo, &hi);
	return lo < hi;
}

void pg_cell_id(struct pg *p, const char *key)
{
	sb_adds(p->out, "at");
	while (*key != '\0') {
		size_t n = strcspn(key, "/");
		sb_add(p->out, key, n);
		if (key[n] == '\0')
			break;
		sb_addc(p->out, '-');
		key += n + 1;
	}
}

void pg_key(char *key, size_t size, const char *base, const char *name)
{
	size_t a = strlen(base), b = strlen(name);

	if (a + 1 + b >= size) {
		snprintf(key, size, "%s/%s", base, name);
		return;
	}
	memcpy(key, base, a);
	key[a] = '/';
	memcpy(key + a + 1, name, b + 1);
}

void pg_key_index(char *key, size_t size, const char *base, size_t i)
{
	char digits[24], *d = digits + sizeof(digits);

	*--d = '\0';
	do
		*--d = (char)('0' + i % 10);
	while ((i /= 10) != 0);
	pg_key(key, size, base, d);
}

static const char sev_letter[] = {'e', 'w', 'i'};

struct pg_cell pg_cell_open(struct pg *p, const char *tag, const char *key,
			    const char *cls)
{
	struct pg_cell c = {.tag = tag, .key = key};
	enum severity worst = SEV_INFO;

	if (p->norder > 0) /* else no cell is highlighted */
		range(p, key, false, &c.lo, &c.hi);
	/* most cells: copied, not formatted (a page has hundreds) */
	sb_addc(p->out, '<');
	sb_adds(p->out, tag);
	if (c.lo == c.hi) {
		if (cls) {
			sb_adds(p->out, " class=\"");
			sb_adds(p->out, cls);
			sb_addc(p->out, '"');
		}
		sb_addc(p->out, '>');
		return c;
	}
	for (size_t i = c.lo; i < c.hi; i++) {
		enum severity s = p->in->j->findings[p->order[i]].severity;
		if (s < worst)
			worst = s;
	}
	sb_adds(p->out, " class=\"");
	if (cls) {
		sb_adds(p->out, cls);
		sb_addc(p->out, ' ');
	}
	p->css |= PG_CSS_SEVERITY(worst);
	sb_adds(p->out, "hit hit-");
	sb_addc(p->out, sev_letter[worst]);
	sb_adds(p->out, "\" id=\"");
	pg_cell_id(p, key);
	sb_adds(p->out, "\" data-pointer=\"");
	page_escape(p->out, key);
	sb_adds(p->out, "\">");
	return c;
}

/* A link of a cell to a finding's item (ref-e, ref-w, ref-i). */
static void ref_open(struct pg *p, enum severity s)
{
	p->css |= PG_CSS_SEVERITY(s);
	sb_adds(p->out, "<a class=\"ref ref-");
	sb_addc(p->out, sev_letter[s]);
	sb_adds(p->out, "\" href=\"#");
}

void pg_cell_close(struct pg *p, const struct pg_cell *c)
{
	size_t more = 0;
	enum severity worst = SEV_INFO;

	if (c->lo < c->hi) {
		p->css |= PG_CSS_REFS;
		sb_adds(p->out, "<span class=\"refs\">");
	}
	for (size_t i = c->lo; i < c->hi; i++) {
		size_t f = p->order[i];
		enum severity s = p->in->j->findings[f].severity;
		if (!p->listed[f]) {
			more++;
			worst = s < worst ? s : worst;
			continue;
		}
		ref_open(p, s);
		sb_adds(p->out, "f-");
		sb_addu(p->out, f + 1);
		sb_adds(p->out, "\">");
		sb_addu(p->out, f + 1);
		sb_adds(p->out, "</a>");
	}
	if (more > 0) {
		ref_open(p, worst);
		sb_adds(p->out, "not-listed\">+");
		sb_addu(p->out, more);
		sb_adds(p->out, "</a>");
	}
	if (c->lo < c->hi)
		sb_adds(p->out, "</span>");
	sb_adds(p->out, "</");
	sb_adds(p->out, c->tag);
	sb_addc(p->out, '>');
}

/* The words of the page's cells, by the name of their JSON member. */
static const struct {
	const char *name, *label;
} labels[] = {
    {"id", N_("Reference")},
    {"authority", N_("Authority")},
    {"subject", N_("Subject")},
    {"currency", N_("Currency")},
    {"total", N_("Declared total")},
    {"format", N_("Format")},
    {"missions", N_("Missions")},
    {"meeting", N_("Meeting")},
    {"body", N_("Deciding body")},
    {"period", N_("Period")},
    {"destination", N_("Destination")},
    {"start", N_("Start")},
    {"end", N_("End")},
    {"cost", N_("Cost")},
    {"councillors", N_("Councillors")},
    {"guests", N_("Guests")},
    {"staff", N_("Staff")},
    {"size", N_("Size")},
    {"members", N_("Members")},
    {"name", N_("Name")},
    {"role", N_("Role")},
    {"expenses", N_("Expenses")},
    {"date", N_("Date")},
    {"category", N_("Category")},
    {"amount", N_("Amount")},
    {"description", N_("Description")},
};

const char *pg_label(struct pg *p, const char *name)
{
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (labels[i].name[0] == name[0] &&
		    strcmp(labels[i].name, name) == 0)
			return pg_tr(p, labels[i].label);
	return name;
}

/* The parts of the header's pairs, in a phrase of their own. */
static const struct {
	const char *name, *part, *label;
} part_labels[] = {
    {"meeting", "body", N_("Deciding body")},
    {"meeting", "date", N_("Meeting date")},
    {"period", "start", N_("Start of the period")},
    {"period", "end", N_("End of the period")},
};

/* The phrase of part of the pair name ("Meeting date"), or NULL. */
static const char *part_label(struct pg *p, const char *name, const char *part)
{
	for (size_t i = 0; i < sizeof(part_labels) / sizeof(part_labels[0]);
	     i++)
		if (strcmp(part_labels[i].name, name) == 0 &&
		    strcmp(part_labels[i].part, part) == 0)
			return pg_tr(p, part_labels[i].label);
	return NULL;
}

void pg_cell_label(struct pg *p, const char *key)
{
	struct toks tk;
	const char *sep = "", *part;

	split(key, &tk);
	if (tk.n == 2 && (part = part_label(p, tk.t[0], tk.t[1]))) {
		sb_adds(p->out, part);
		return;
	}
	for (int i = 0; i < tk.n; i++) {
		const char *t = tk.t[i], *up = i > 0 ? tk.t[i - 1] : "";
		/* an item of a list, numbered from 1 (k < SIZE_MAX) */
		const char *item =
		    strcmp(up, "missions") == 0	  ? N_("Mission %zu")
		    : strcmp(up, "members") == 0  ? N_("Member %zu")
		    : strcmp(up, "expenses") == 0 ? N_("Expense %zu")
						  : NULL;
		size_t k;
		sb_adds(p->out, sep);
		sep = " \xc2\xb7 "; /* U+00B7 */
		if (item != NULL && index_of(t, SIZE_MAX, &k)) {
			pg_fmt_zu(p, pg_tr(p, item), k + 1);
		} else if (strcmp(t, "delegation") == 0 ||
			   (i + 1 < tk.n && (strcmp(t, "missions") == 0 ||
					     strcmp(t, "members") == 0 ||
					     strcmp(t, "expenses") == 0))) {
			sep = ""; /* "Mission 2", not "Missions · Mission 2" */
		} else {
			/* a name of no label is shown as it is, escaped */
			page_escape(p->out, pg_label(p, t));
		}
	}
}
