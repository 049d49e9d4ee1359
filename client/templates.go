package client

import (
	"time"

	"github.com/google/uuid"
)

// StackTemplate is one version of a parameterised stack template. Updating a template
// creates a new row with the next version; a nil GeneratorID marks a system template.
type StackTemplate struct {
	ID               uuid.UUID  `json:"id"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	DeletedAt        *time.Time `json:"deleted_at"`
	GeneratorID      *uuid.UUID `json:"generator_id"`
	Name             string     `json:"name"`
	Description      *string    `json:"description"`
	Version          int32      `json:"version"`
	TemplateContent  string     `json:"template_content"`
	ParametersSchema string     `json:"parameters_schema"` // a JSON Schema as JSON text
	Checksum         string     `json:"checksum"`          // lowercase hex SHA-256 of TemplateContent
}

// TemplateLabel is a label a stack must carry for the template to be instantiated into it.
type TemplateLabel struct {
	ID         uuid.UUID `json:"id"`
	TemplateID uuid.UUID `json:"template_id"`
	Label      string    `json:"label"`
	CreatedAt  time.Time `json:"created_at"`
}

// TemplateAnnotation is a key/value annotation a stack must carry for the template to be
// instantiated into it.
type TemplateAnnotation struct {
	ID         uuid.UUID `json:"id"`
	TemplateID uuid.UUID `json:"template_id"`
	Key        string    `json:"key"`
	Value      string    `json:"value"`
	CreatedAt  time.Time `json:"created_at"`
}

// CreateTemplateRequest is the body of POST /templates.
type CreateTemplateRequest struct {
	Name             string  `json:"name"`
	Description      *string `json:"description,omitempty"`
	TemplateContent  string  `json:"template_content"`
	ParametersSchema string  `json:"parameters_schema"`
}

// UpdateTemplateRequest is the body of PUT /templates/{id}. A nil Description keeps the
// previous version's description.
type UpdateTemplateRequest struct {
	Description      *string `json:"description,omitempty"`
	TemplateContent  string  `json:"template_content"`
	ParametersSchema string  `json:"parameters_schema"`
}

// NewTemplateAnnotation is the body of POST /templates/{id}/annotations.
type NewTemplateAnnotation struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// TemplateInstantiationRequest is the body of
// POST /stacks/{stack_id}/deployment-objects/from-template. Parameters is any JSON value; its
// top-level keys become the template's variables when it is an object.
type TemplateInstantiationRequest struct {
	TemplateID uuid.UUID `json:"template_id"`
	Parameters RawJSON   `json:"parameters"`
}
