package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

// attachmentFirstArg is the placeholder of the first of the attachments'
// arrays in insertMessages.
const attachmentFirstArg = 32

// attachmentArrays is the FROM item of insertMessages that reads the
// attachments' arrays, one per column of tables.AttachmentInsertColumns,
// as x, with their order as x.n; attachmentInsertColumnsX selects them.
// The arrays' SQL types follow the Go types of tables.AttachmentValues,
// so the two cannot drift apart.
var attachmentArrays, attachmentInsertColumnsX = func() (string, string) {
	names := strings.Split(tables.AttachmentInsertColumns, ",")
	sample := tables.AttachmentValues("", 0, 0, 0, chathook.Attachment{}, 0)
	if len(names) != len(sample) || len(names) != tables.AttachmentWidth {
		panic(fmt.Sprintf("postgres: %d attachment columns, %d values, width %d", len(names), len(sample), tables.AttachmentWidth))
	}
	args, xs := make([]string, len(names)), make([]string, len(names))
	for i, v := range sample {
		names[i] = strings.TrimSpace(names[i])
		args[i] = fmt.Sprintf("$%d::%s[]", attachmentFirstArg+i, sqlType(v))
		xs[i] = "x." + names[i]
	}
	return `unnest(` + strings.Join(args, ", ") + `) WITH ORDINALITY AS x (` + strings.Join(names, ", ") + `, n)`,
		strings.Join(xs, ", ")
}()

// sqlType is the column type of a value of tables.AttachmentValues.
func sqlType(v any) string {
	switch v.(type) {
	case string:
		return "text"
	case int, int64:
		return "bigint"
	case float64:
		return "double precision"
	case []byte:
		return "bytea"
	}
	panic(fmt.Sprintf("postgres: no SQL type for an attachment value of type %T", v))
}

// attachmentColumns are the arrays of insertMessages' attachments, one
// per column, built row by row from tables.AttachmentValues.
type attachmentColumns []any

// add appends a row of tables.AttachmentValues.
func (c *attachmentColumns) add(values []any) {
	if *c == nil {
		*c = make(attachmentColumns, len(values))
		for i, v := range values {
			switch v.(type) {
			case string:
				(*c)[i] = []string{}
			case int, int64:
				(*c)[i] = []int64{}
			case float64:
				(*c)[i] = []float64{}
			case []byte:
				(*c)[i] = [][]byte{}
			}
		}
	}
	for i, v := range values {
		switch v := v.(type) {
		case string:
			(*c)[i] = append((*c)[i].([]string), v)
		case int:
			(*c)[i] = append((*c)[i].([]int64), int64(v))
		case int64:
			(*c)[i] = append((*c)[i].([]int64), v)
		case float64:
			(*c)[i] = append((*c)[i].([]float64), v)
		case []byte:
			(*c)[i] = append((*c)[i].([][]byte), v)
		}
	}
}

// args returns the arrays, empty ones when no attachment was added.
func (c attachmentColumns) args() []any {
	if c == nil {
		c.add(tables.AttachmentValues("", 0, 0, 0, chathook.Attachment{}, 0))
		for i, col := range c { // keep the types, drop the sample row
			switch col := col.(type) {
			case []string:
				c[i] = col[:0]
			case []int64:
				c[i] = col[:0]
			case []float64:
				c[i] = col[:0]
			case [][]byte:
				c[i] = col[:0]
			}
		}
	}
	return c
}

// loadAttachments reads the attachments of the messages of a claim or a
// page that have any.
var loadAttachments = tables.AttachmentsOf(`= ANY($1)`)

// attach reads the attachments of those of msgs that have some (see
// tables.Counted) with q: one query for them all, and none when no
// message has any.
func attach(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, msgs []*chathook.Message) error {
	ids := tables.WithAttachments(msgs)
	if len(ids) == 0 {
		return nil
	}
	rows, err := q.Query(ctx, loadAttachments, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	return tables.Attach(rows, msgs)
}
