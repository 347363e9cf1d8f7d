import type { ParamField, ParamInput } from '../forms/schema';
import { useI18n } from '../i18n';
import { Field } from './ui';

/** Controls for a task's parameters; each control's data-testid is "field-parameters.<name>". */
export function ParamFields({ fields, values, errors, onChange }: {
  fields: ParamField[];
  values: Record<string, ParamInput>;
  errors: Record<string, string>;
  onChange: (name: string, value: ParamInput) => void;
}) {
  const { t } = useI18n();
  return (
    <div className="param-fields" data-testid="param-fields">
      {fields.map((field) => {
        const key = `parameters.${field.name}`;
        const value = values[field.name];
        const text = typeof value === 'string' ? value : '';
        const label = (
          <>
            {field.label}
            {field.required && <span className="required" aria-hidden="true"> *</span>}{' '}
            <code className="muted small">{field.name}</code>
          </>
        );
        const hint = [field.description, field.kind === 'json' ? t.jsonHint : undefined].filter(Boolean).join(' · ') || undefined;
        return (
          <Field key={field.name} field={key} label={label} hint={hint} error={errors[key]} className={field.kind === 'boolean' ? 'field-check' : undefined}>
            {(props) => {
              const common = { ...props, 'data-testid': `field-${key}`, name: key };
              switch (field.kind) {
                case 'boolean':
                  return <input type="checkbox" {...common} checked={value === true} onChange={(e) => onChange(field.name, e.target.checked)} />;
                case 'enum':
                  return (
                    <select {...common} value={text} onChange={(e) => onChange(field.name, e.target.value)}>
                      {(!field.required || field.nullable || field.default === undefined) && <option value="">{t.nullOption}</option>}
                      {field.enumValues?.map((option) => (
                        <option key={String(option)} value={String(option)}>
                          {String(option)}
                        </option>
                      ))}
                    </select>
                  );
                case 'integer':
                case 'number':
                  return (
                    <input
                      type="number"
                      {...common}
                      dir="ltr"
                      step={field.kind === 'integer' ? 1 : 'any'}
                      min={field.minimum}
                      max={field.maximum}
                      value={text}
                      required={field.required}
                      onChange={(e) => onChange(field.name, e.target.value)}
                    />
                  );
                case 'json':
                  return <textarea {...common} dir="ltr" rows={4} spellCheck={false} className="mono" value={text} onChange={(e) => onChange(field.name, e.target.value)} />;
                default:
                  return (
                    <input
                      type="text"
                      {...common}
                      dir="auto"
                      value={text}
                      required={field.required}
                      placeholder={field.format === 'uri' ? 'https://…' : undefined}
                      onChange={(e) => onChange(field.name, e.target.value)}
                    />
                  );
              }
            }}
          </Field>
        );
      })}
    </div>
  );
}
